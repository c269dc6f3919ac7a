// tscr diff A B: what changed between two checkpoints (offline, any OS).
import type { Command } from '../context.ts';
import { openCheckpoint } from '../../lib/offline/checkpoint.ts';
import { diffCheckpoints, formatDiff } from '../../lib/offline/diff.ts';

const diff: Command = {
  command: 'diff <a> <b>',
  describe: 'Show what changed between two checkpoints: processes, threads, fds, sockets, VMAs, pages (offline)',
  builder: (y: any) => y
    .positional('a', { type: 'string', describe: 'older image directory' })
    .positional('b', { type: 'string', describe: 'newer image directory' })
    .option('pages', { type: 'boolean', describe: 'list every changed page address (text mode)' }),
  run(args: any, ctx) {
    const A = openCheckpoint(String(args.a));
    const B = openCheckpoint(String(args.b));
    const t0 = performance.now();
    const r = diffCheckpoints(A, B);
    const seconds = (performance.now() - t0) / 1000;
    if (ctx.jsonMode) ctx.json({ ...r, seconds });
    else {
      ctx.out(formatDiff(r));
      if (args.pages) for (const p of r.processes) for (const c of p.changedPages ?? []) ctx.out(`  ${p.pid} ${c.addr} ${c.change}\n`);
    }
    return r.identical ? 0 : 1;
  },
};
export default diff;
