// tscr encode -i F.json -o F: crit JSON (pretty or not) -> CRIU image.
import type { Command } from '../context.ts';
import { isStd, openOutput, readInput } from '../io.ts';
import { encodeFileFromJSON, encodeFromJSON } from '../../lib/images.ts';

export interface EncodeArgs { in?: string; out?: string }

export function runEncode(args: EncodeArgs, ctx: { outBytes(b: Uint8Array): void }): number {
  if (!isStd(args.in)) {
    // encode to memory first when writing a file, so a bad input leaves no half-written image
    const parts: Uint8Array[] = [];
    encodeFileFromJSON(args.in!, (b) => parts.push(Buffer.from(b)));
    const out = openOutput(args.out, (b) => ctx.outBytes(b));
    try { for (const p of parts) out.write(p); } finally { out.close(); }
    return 0;
  }
  const text = readInput(args.in, 'JSON');
  const bytes = encodeFromJSON(text, { file: 'stdin' });
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
