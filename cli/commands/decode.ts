// tscr decode -i F [-o OUT] [--pretty]: CRIU image -> crit JSON (streams any size).
import type { Command, Ctx } from '../context.ts';
import { isStd, openOutput, readInput } from '../io.ts';
import { decodeFileToJSON, decodeToJSON } from '../../lib/images.ts';

export interface DecodeArgs { in?: string; out?: string; pretty?: boolean; nopl?: boolean }

export function runDecode(args: DecodeArgs, ctx: Pick<Ctx, 'outBytes' | 'progress'>): number {
  const out = openOutput(args.out, (b) => ctx.outBytes(b), args.in);
  // progress only when the JSON goes to a file (stderr on a TTY, never with --json)
  const bar = out.isStdout ? null : ctx.progress('decode', 'bytes');
  try {
    if (isStd(args.in)) out.write(decodeToJSON(readInput(args.in, 'image'), { pretty: args.pretty, file: 'stdin' }));
    else decodeFileToJSON(args.in!, (s) => out.write(s), { pretty: args.pretty, onProgress: bar ? (d, t) => bar.update(d, t) : undefined });
    if (out.isStdout) out.write('\n');
  } catch (e) {
    bar?.end();
    out.discard(); // no half-written JSON file is left behind
    throw e;
  }
  bar?.end();
  out.close();
  return 0;
}

const decode: Command<DecodeArgs> = {
  command: 'decode',
  describe: 'Convert a CRIU image to JSON (like crit decode)',
  builder: (y) => y
    .option('in', { alias: 'i', type: 'string', describe: 'image to decode (stdin by default, or -)' })
    .option('out', { alias: 'o', type: 'string', describe: 'where to write the JSON (stdout by default, or -)' })
    .option('pretty', { type: 'boolean', describe: 'indent, and show some fields as hex, flags, devices, addresses' }),
  run: (args, ctx) => runDecode(args, ctx),
};
export default decode;
