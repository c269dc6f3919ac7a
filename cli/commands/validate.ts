// tscr validate DIR|ARCHIVE [--policy host.json]: strict offline consistency check
// (issue 6), plus "safe to restore here" checks against a host description.
// tscr validate --describe-host [--for DIR] > host.json: describe this Linux host.
// Never loads the shim.
import type { Command } from '../context.ts';
import { usage } from '../context.ts';
import { openCheckpoint } from '../../lib/offline/checkpoint.ts';
import { validateCheckpoint, formatFinding } from '../../lib/offline/validate.ts';
import { describeHost, loadHost } from '../../lib/offline/policy.ts';

const validate: Command = {
  command: 'validate [dir]',
  describe: 'Check a checkpoint (directory or archive) for consistency before trusting it (offline, any OS)',
  builder: (y: any) => y
    .positional('dir', { type: 'string', describe: 'image directory or tscr archive' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only errors and warnings, no summary' })
    .option('policy', { type: 'string', describe: 'also check it is safe to restore on the host this JSON describes' })
    .option('describe-host', { type: 'boolean', describe: 'print a description of this host (for --policy) and exit' })
    .option('page-data', { type: 'boolean', default: true, describe: 'read and hash every page (--no-page-data: structure and sizes only)' })
    .option('for', { type: 'string', describe: 'with --describe-host: include the files this checkpoint needs' }),
  run(args: any, ctx) {
    if (args['describe-host']) {
      const cp = args.for ? openCheckpoint(String(args.for)) : undefined;
      ctx.out(JSON.stringify(describeHost(cp), null, 2) + '\n');
      return 0;
    }
    if (!args.dir) throw usage('name the checkpoint directory or archive to validate', 'e.g. tscr validate /tmp/ckpt');
    const host = args.policy ? loadHost(String(args.policy)) : undefined;
    const cp = openCheckpoint(String(args.dir));
    const prog = ctx.progress('validate', 'bytes');
    const t0 = performance.now();
    const r = validateCheckpoint(cp, { onBytes: (d, t) => prog.update(d, t), host, pageData: args['page-data'] !== false });
    prog.end();
    const ms = performance.now() - t0;
    if (ctx.jsonMode) {
      ctx.json({ ...r, ...(host ? { policy: args.policy } : {}), seconds: ms / 1000 });
    } else {
      ctx.out(r.findings.filter((f) => !(args.quiet && f.severity === 'info')).map((f) => formatFinding(f) + '\n').join(''));
      if (!args.quiet) {
        const procs = cp.procs().length;
        ctx.out(`${r.clean ? 'clean' : 'NOT clean'}: ${r.errors} error(s), ${r.warnings} warning(s); ${procs} process(es), ${cp.names.length} files, ${(r.pageBytes / 1048576).toFixed(1)} MiB of pages ${args['page-data'] === false ? 'sized (not read)' : 'checked'} in ${ms.toFixed(0)} ms${host ? `; restore policy of ${args.policy} checked` : ''}\n`);
      }
    }
    cp.close();
    return r.clean ? 0 : 1;
  },
};
export default validate;
