// tscr restore: bring a checkpointed process tree back (CRIU's flags).
import type { Command } from '../context.ts';
import { usage } from '../context.ts';
import { TscrError } from '../../lib/errors.ts';
import { writeFileSync } from 'node:fs';

const restore: Command = {
  command: 'restore',
  describe: 'Restore a process tree from a checkpoint directory',
  needsShim: true,
  builder: (y: any) => y
    .alias('o', 'log-file') // CRIU's -o LOGFILE
    .option('images-dir', { alias: 'D', type: 'string', describe: 'directory with the checkpoint images, or a tscr archive', demandOption: true })
    .alias('o', 'log-file')
    .option('restore-detached', { alias: 'd', type: 'boolean', default: false, describe: 'start the tree and exit (do not wait for it)' })
    .option('pidfile', { type: 'string', describe: 'write the pid of the restored root here' })
    .option('shell-job', { type: 'boolean', default: false, describe: 'the tree was started from a shell: join this session/group' })
    .option('tcp-established', { type: 'boolean', default: false, describe: 'restore established TCP connections' })
    .option('ext-unix-sk', { type: 'boolean', default: false, describe: 'allow unix sockets connected outside the tree' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print the restore plan and do nothing (works on any OS)' }),
  async run(args, ctx) {
    let dir = args.imagesDir ?? args.D;
    if (!dir) throw usage('restore needs -D DIR', 'pass the directory `tscr dump -D` wrote');
    // A tscr archive: verified in full first; metadata staged in RAM, pages streamed (lib/archive-restore.ts).
    const { ArchiveReader } = await import('../../lib/archive.ts');
    const staged = ArchiveReader.isArchive(dir) ? (await import('../../lib/archive-restore.ts')).openArchiveForRestore(dir) : null;
    const shown = dir;
    if (staged) dir = staged.dir;
    // criu-dev compressed pages in an image directory: checked in full, then decoded as restore reads them.
    const criuComp = staged ? null : (await import('../../lib/criucomp.ts')).openCompressedDirForRestore(dir);
    try {
    const opts = {
      dir, shellJob: args.shellJob, tcpEstablished: args.tcpEstablished, extUnixSk: args.extUnixSk,
      log: (l: 1 | 2 | 3 | 4, s: string) => ctx.log(l, s), pages: staged?.pages ?? criuComp ?? undefined,
    };
    const eng = await import('../../lib/restore/engine.ts');
    if (args.dryRun) {
      const { describeOp } = await import('../../lib/restore/plan.ts');
      const plan = eng.planOnly(opts);
      if (ctx.jsonMode) ctx.json({ dir: shown, ops: plan });
      else {
        ctx.out(`restore plan for ${shown}: ${plan.length} operations\n`);
        plan.forEach((o, i) => ctx.out(`${String(i + 1).padStart(4)}  ${describeOp(o)}${o.detail ? `  [${o.detail}]` : ''}\n`));
      }
      return 0;
    }
    if (process.platform !== 'linux') throw new TscrError('E_NO_SHIM', `restore needs Linux (this host is ${process.platform})`, { hint: 'use --dry-run to see the plan' });
    const bar = ctx.progress('restoring', 'items');
    let res;
    try {
      res = await eng.restore({ ...opts, progress: (d: number, t: number) => bar.update(d, t) });
    } finally {
      bar.end();
      staged?.close();
    }
    if (args.pidfile) writeFileSync(args.pidfile, `${res.root}\n`);
    const summary = {
      root: res.root, pids: res.pids, threads: res.threads, bytes: res.bytes,
      ms: Object.fromEntries(Object.entries(res.ms).map(([k, v]) => [k, Math.round((v as number) * 10) / 10])),
    };
    if (args.restoreDetached) {
      if (ctx.jsonMode) ctx.json({ restored: true, detached: true, ...summary });
      else ctx.log(1, `restored ${res.pids.length} process(es), ${res.threads} thread(s), ${(res.bytes / 1048576).toFixed(1)} MiB in ${res.ms.total.toFixed(0)} ms; root pid ${res.root}`);
      return 0;
    }
    // Like CRIU without -d: wait for the root and exit with its status.
    const status = eng.waitRoot(res.root);
    if (ctx.jsonMode) ctx.json({ restored: true, detached: false, ...summary, exit: status });
    return status.signal ? 128 + status.signal : status.code;
    } finally {
      staged?.close();
      criuComp?.close();
    }
  },
};
export default restore;
