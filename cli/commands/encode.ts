// tscr encode -i F.json -o F: crit JSON (pretty or not) -> CRIU image.
import type { Command } from '../context.ts';
import { openOutput, readInput } from '../io.ts';
import { encodeFromJSON } from '../../lib/images.ts';

export interface EncodeArgs { in?: string; out?: string }

export function runEncode(args: EncodeArgs, ctx: { outBytes(b: Uint8Array): void }): number {
  const text = readInput(args.in, 'JSON');
  const bytes = encodeFromJSON(text, { file: args.in && args.in !== '-' ? args.in : 'stdin' });
  const out = openOutput(args.out, (b) => ctx.outBytes(b));
  try { out.write(bytes); } finally { out.close(); }
  return 0;
}

const encode: Command<EncodeArgs> = {
  command: 'encode',
  describe: 'Convert JSON back to a CRIU image (like crit encode)',
  builder: (y) => y
    .option('in', { alias: 'i', type: 'string', describe: 'JSON to encode (stdin by default, or -)' })
    .option('out', { alias: 'o', type: 'string', describe: 'image file to write (stdout by default, or -)' }),
  run: (args, ctx) => runEncode(args, ctx),
};
export default encode;
