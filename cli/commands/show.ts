// tscr show F (or -i F) [--nopl]: decode --pretty to stdout (like crit show).
import type { Command } from '../context.ts';
import { readInput } from '../io.ts';
import { decodeImage, decodeToJSON } from '../../lib/images.ts';
import { usage } from '../context.ts';

export interface ShowArgs { in?: string; file?: string; nopl?: boolean }

function human(n: number): string {
  const u = ['', 'K', 'M', 'G', 'T', 'P', 'E', 'Z'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return Number.isInteger(n) ? `${n}${u[i]}B` : `${n.toFixed(1)}${u[i]}B`;
}

export function runShow(args: ShowArgs, ctx: { out(s: string): void; outBytes(b: Uint8Array): void }): number {
  const path = args.in ?? args.file;
  if (path === undefined) throw usage('name the image: tscr show -i FILE', 'use - for stdin');
  const bytes = readInput(path, 'image');
  if (!args.nopl) {
    ctx.outBytes(Buffer.from(decodeToJSON(bytes, { pretty: true, file: path }) + '\n', 'latin1'));
    return 0;
  }
  const img = decodeImage(bytes, { file: path });
  for (const e of img.entries) {
    if (e && typeof e === 'object' && 'extra' in e) {
      const x = e.extra;
      const size = typeof x === 'string' ? Buffer.from(x, 'base64').length
        : x && typeof x === 'object' && 'inq' in x ? Buffer.from(x.inq, 'base64').length + Buffer.from(x.outq, 'base64').length : 0;
      e.extra = `... <${human(size)}>`;
    }
  }
  ctx.out(JSON.stringify(img, (_k, v) => (typeof v === 'bigint' ? `\u0000${v}` : v), 4).replace(/"\\u0000(-?\d+)"/g, '$1') + '\n');
  return 0;
}

const show: Command<ShowArgs> = {
  command: 'show [file]',
  describe: 'Print a CRIU image as readable JSON (like crit show)',
  builder: (y) => y
    .positional('file', { type: 'string', describe: 'image file' })
    .option('in', { alias: 'i', type: 'string', describe: 'image file (or - for stdin)' })
    .option('nopl', { type: 'boolean', describe: 'do not show entry payloads' }),
  run: (args, ctx) => runShow(args, ctx),
};
export default show;
