// tscr validate DIR: strict offline consistency check (issue 6). Never loads the shim.
import type { Command } from '../context.ts';
import { usage } from '../context.ts';
import { openCheckpoint } from '../../lib/offline/checkpoint.ts';
import { validateCheckpoint, formatFinding } from '../../lib/offline/validate.ts';

const validate: Command = {
  command: 'validate <dir>',
  describe: 'Check a checkpoint for consistency before trusting it (offline, any OS)',
  builder: (y: any) => y
    .positional('dir', { type: 'string', describe: 'image directory' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only errors and warnings, no summary' }),
  run(args: any, ctx) {
    if (!args.dir) throw usage('name the checkpoint directory to validate');
    const cp = openCheckpoint(String(args.dir));
    const prog = ctx.progress('validate', 'bytes');
    const t0 = performance.now();
    const r = validateCheckpoint(cp, (d, t) => prog.update(d, t));
    prog.end();
    const ms = performance.now() - t0;
    if (ctx.jsonMode) {
      ctx.json({ ...r, seconds: ms / 1000 });
    } else {
      ctx.out(r.findings.filter((f) => !(args.quiet && f.severity === 'info')).map((f) => formatFinding(f) + '\n').join(''));
      if (!args.quiet) {
        const procs = cp.procs().length;
        ctx.out(`${r.clean ? 'clean' : 'NOT clean'}: ${r.errors} error(s), ${r.warnings} warning(s); ${procs} process(es), ${cp.names.length} files, ${(r.pageBytes / 1048576).toFixed(1)} MiB of pages checked in ${ms.toFixed(0)} ms\n`);
      }
    }
    return r.clean ? 0 : 1;
  },
};
export default validate;
