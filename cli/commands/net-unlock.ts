// tscr net-unlock: recovery after a dump that could not clean up (tscr was
// killed with SIGKILL, the machine lost power...): remove the network lock of a
// tree and take its TCP sockets out of repair mode, so its connections resume.
import type { Command } from '../context.ts';
import { usage } from '../context.ts';

const netUnlock: Command = {
  command: 'net-unlock',
  describe: 'Remove the network lock of a dumped tree and take its sockets out of TCP repair mode (recovery)',
  needsShim: true,
  builder: (y: any) => y
    .option('tree', { alias: 't', type: 'number', describe: 'root pid of the tree that was being dumped (names its lock)' })
    .option('lock', { type: 'string', describe: 'remove this lock table (tscr-NAME) instead of the one named by -t' }),
  async run(args: any, ctx) {
    if (!args.tree && !args.lock) throw usage('which tree? give its root pid with -t PID (or a lock name with --lock)', 'e.g. tscr net-unlock -t 1234; `nft list tables` shows tscr-* locks');
    const { unlockTree } = await import('../../lib/kinds/inet.ts');
    const r = unlockTree(args.tree ? Number(args.tree) : undefined, args.lock);
    if (ctx.jsonMode) ctx.json(r);
    else {
      ctx.out(`${r.lockRemoved ? `removed the network lock ${r.lock}` : `no network lock ${r.lock} here`}; ` +
        `${r.repaired.length} socket(s) taken out of repair mode${r.repaired.length ? ` (${r.repaired.map((x) => `pid ${x.pid} fd ${x.fd}`).join(', ')})` : ''}\n`);
    }
    return 0;
  },
};
export default netUnlock;
