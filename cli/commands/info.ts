// tscr info F (or -i F): image kind and entry count (like crit info).
import type { Command } from '../context.ts';
import { readInput } from '../io.ts';
import { imageInfo } from '../../lib/images.ts';
import { usage } from '../context.ts';

export interface InfoArgs { in?: string; file?: string; json?: boolean }

export function runInfo(args: InfoArgs, ctx: { out(s: string): void }): number {
  const path = args.in ?? args.file;
  if (path === undefined) throw usage('name the image: tscr info -i FILE', 'use - for stdin');
  const info = imageInfo(readInput(path, 'image'), { file: path });
  ctx.out(JSON.stringify(info, null, 4) + '\n');
  return 0;
}

const info: Command<InfoArgs> = {
  command: 'info [file]',
  describe: 'Show the kind and entry count of a CRIU image (like crit info)',
  builder: (y) => y
    .positional('file', { type: 'string', describe: 'image file' })
    .option('in', { alias: 'i', type: 'string', describe: 'image file (or - for stdin)' }),
  run: (args, ctx) => runInfo(args, ctx),
};
export default info;
