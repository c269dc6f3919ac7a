// tscr report DIR -o report.html: a self-contained HTML page about a checkpoint (offline).
import { writeFileSync } from 'node:fs';
import type { Command } from '../context.ts';
import { TscrError } from '../../lib/errors.ts';
import { openCheckpoint } from '../../lib/offline/checkpoint.ts';
import { renderReport } from '../../lib/offline/report.ts';
import { validateCheckpoint } from '../../lib/offline/validate.ts';

const report: Command = {
  command: 'report <dir>',
  describe: 'Write one self-contained HTML page about a checkpoint: tree, memory maps, fds, findings (offline)',
  builder: (y: any) => y
    .positional('dir', { type: 'string', describe: 'image directory' })
    .option('output', { alias: ['o', 'html'], type: 'string', describe: 'output file (default: report.html)' }),
  run(args: any, ctx) {
    const out = String(args.output ?? 'report.html');
    const cp = openCheckpoint(String(args.dir));
    const v = validateCheckpoint(cp);
    const html = renderReport(cp, v);
    try { writeFileSync(out, html); } catch (e) {
      throw new TscrError('E_IO', `cannot write ${out}: ${(e as Error).message}`, { file: out, hint: 'choose a writable path with -o' });
    }
    if (ctx.jsonMode) ctx.json({ report: out, bytes: Buffer.byteLength(html), processes: cp.procs().length, clean: v.clean });
    else ctx.out(`wrote ${out} (${Buffer.byteLength(html)} bytes; ${cp.procs().length} process(es); validation ${v.clean ? 'clean' : `${v.errors} error(s), ${v.warnings} warning(s)`})\n`);
    return 0;
  },
};
export default report;
