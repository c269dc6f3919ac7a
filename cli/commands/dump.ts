// tscr dump -t PID -D DIR: checkpoint a running process tree into CRIU images.
import type { Command } from '../context.ts';
import { usage } from '../context.ts';
import { resolve } from 'node:path';

const dump: Command = {
  command: 'dump',
  describe: 'Checkpoint a running process tree into CRIU-format images',
  needsShim: true,
  // start the tracer thread while the rest loads (start-up counts: target <= 0.3 s for a small process)
  prewarm() { import('../../lib/tracer.ts').then((m) => m.prewarmTracer(), () => {}); },
  builder: (y: any) => y
    .alias('o', 'log-file') // as CRIU: -o/--log-file
    .option('tree', { alias: 't', type: 'number', describe: 'pid of the root of the tree to dump' })
    .option('images-dir', { alias: 'D', type: 'string', describe: 'directory to write the images to', default: '.' })
    .option('leave-running', { alias: 'R', type: 'boolean', describe: 'let the tree run on after the dump (default: kill it)' })
    .option('shell-job', { type: 'boolean', describe: 'the tree was started from a shell: allow an outside session and a terminal' })
    .option('tcp-established', { type: 'boolean', describe: 'dump established TCP connections' })
    .option('tcp-skip-in-flight', { type: 'boolean', describe: 'drop connections that a listener has not accepted yet (their clients see a reset)' })
    .option('ext-unix-sk', { type: 'boolean', describe: 'allow unix sockets connected outside the tree' })
    .option('sync', { type: 'boolean', describe: 'fsync images before killing the tree (default: on unless -R)' })
    .option('compress', { type: 'boolean', describe: 'write a compact tscr archive (deduplicated, LZ4) to the -D path instead of a directory' })
    .option('compress-level', { type: 'number', describe: 'with --compress: -N = fast LZ4 with acceleration N (default -2, ~1 GB/s on two cores), 1 = fast LZ4, 2 = hash chains (smaller, several times slower; what tscr convert writes), 3 = more chains, 0 = store' })
    .option('prev', { type: 'string', describe: 'previous checkpoint: with --compress an archive or CRIU dir (store only pages not already there); without, a CRIU dir (pages unchanged since it, found by --track-mem tracking, are left there: PE_PARENT + a parent link, as criu --prev-images-dir)' })
    .option('track-mem', { type: 'boolean', describe: 'with -R: track memory writes from now on (userfaultfd write-protect), so the next dump with --prev reads only the pages written since' })
    .option('criu-compress', { type: 'string', describe: "write CRIU images with LZ4-compressed pages as criu-dev does: page (like `criu dump --compress`, the default) or region (like `--compress-region`)" })
    .option('criu-compress-region', { type: 'string', describe: 'region size for --criu-compress=region (bytes or K/M, multiple of 4 KiB, at most 4M; default 256K)' }),
  async run(args: any, ctx) {
    if (args.tree !== undefined && !/^\d+$/.test(String(args.tree))) throw usage(`-t needs a pid (a number), not "${args.tree}"`);
    if (!args.tree) throw usage('which tree? give its root pid with -t PID', 'e.g. tscr dump -t 1234 -D /tmp/ckpt');
    const { runInTracer } = await import('../../lib/tracer.ts');
    if (args['track-mem'] && !args['leave-running']) throw usage('--track-mem needs -R/--leave-running: tracking serves the next dump of a tree that keeps running', 'e.g. tscr dump -t PID -R --track-mem --compress -D base.tscr');
    const cc = args.criuCompress === undefined ? null : String(args.criuCompress || 'page');
    if (cc !== null && cc !== 'page' && cc !== 'region') throw usage(`--criu-compress must be page or region, not ${cc}`);
    if (cc && args.prev) throw usage('--criu-compress cannot write an incremental (--prev) directory yet');
    if (cc && args.compress) throw usage('--criu-compress writes a CRIU directory; --compress writes a tscr archive: pick one');
    if (args.criuCompressRegion !== undefined && cc !== 'region') throw usage('--criu-compress-region applies to --criu-compress=region');
    const criucomp = cc ? await import('../../lib/criucomp.ts') : null;
    const regionSize = cc === 'region' ? criucomp!.parseRegionSize(args.criuCompressRegion) : 0;
    const level = args['compress-level'];
    if (level !== undefined && !args.compress) throw usage('--compress-level applies to --compress', 'e.g. tscr dump -t PID --compress --compress-level 2 -D ckpt.tscr');
    if (level !== undefined && !(Number.isInteger(level) && level >= -64 && level <= 3)) throw usage(`--compress-level must be a whole number from -64 to 3, not ${level}`);
    const stage = args.compress ? await import('../../lib/archive-stage.ts') : null;
    const archive = stage ? resolve(args['images-dir'] ?? 'checkpoint.tscr') : null;
    const dir = stage ? stage.dumpStageFor(archive!) : resolve(args['images-dir'] ?? '.');
    const bar = ctx.progress('dump', 'bytes');
    let res: any;
    try {
      res = await runInTracer('dump', {
        pid: Number(args.tree), dir, leaveRunning: Boolean(args['leave-running']), shellJob: Boolean(args['shell-job']),
        tcpEstablished: Boolean(args['tcp-established']), tcpSkipInFlight: Boolean(args['tcp-skip-in-flight']), extUnixSk: Boolean(args['ext-unix-sk']), sync: args.sync,
        failAfter: process.env.TSCR_TEST_FAIL_AFTER, slowPagesMs: Number(process.env.TSCR_TEST_SLOW_PAGES_MS ?? 0) || undefined,
        trackMem: Boolean(args['track-mem']),
        archive: archive ? { path: archive, prev: args.prev ? resolve(String(args.prev)) : undefined, level } : undefined,
        prev: !archive && args.prev ? resolve(String(args.prev)) : undefined,
      }, {
        onProgress: (d, t) => bar.update(d, t),
        onLog: (l, t) => ctx.log(l as 1, t),
      });
    } catch (e) {
      if (stage) (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
      throw e;
    } finally {
      bar.end();
    }
    if (criucomp) {
      // The dump is complete (plain images); now rewrite its pages the criu-dev way.
      const r = criucomp.rewriteDir(res.dir ?? dir, { mode: cc as 'page' | 'region', regionSize }, args.sync !== false);
      res.criuCompress = { mode: cc, regionSize: regionSize || undefined, pagesBytes: r.pagesBytes };
    }
    if (ctx.jsonMode) ctx.json(res);
    else {
      const mb = (res.bytes / (1 << 20)).toFixed(1);
      const z = res.zombies?.length ? ` + ${res.zombies.length} zombie${res.zombies.length === 1 ? '' : 's'}` : '';
      if (res.track) {
        const t = res.track;
        const armed = t.procs.filter((p: any) => p.armed).length;
        const how = t.path === 'tracking' ? `memory tracking: read ${t.pagesRead} pages, ${t.pagesFromParent} unchanged pages taken from --prev unread`
          : t.path === 'hashing' ? `hashing: every page read and compared with --prev (${t.procs.find((p: any) => p.reason)?.reason ?? ''})`
          : t.path === 'full' ? `every page read and stored (${t.procs.find((p: any) => p.reason)?.reason ?? ''})`
          : `tracking for ${t.procs.filter((p: any) => p.path === 'tracking').length} processes, every page read for the others; ${t.pagesFromParent} pages taken from --prev unread`;
        const arm = armed ? `memory tracking armed in ${armed} process${armed === 1 ? '' : 'es'}` : '';
        ctx.out(t.path === 'none' ? (arm ? `${arm}\n` : '') : `incremental: ${how}${arm ? `; ${arm}` : ''}\n`);
      }
      ctx.out(`dumped ${res.processes} process${res.processes === 1 ? '' : 'es'}${z} (${res.threads} thread${res.threads === 1 ? '' : 's'}, ${res.vmas} VMAs, ${mb} MiB of pages) to ${res.dir} in ${res.seconds.toFixed(2)} s${res.mbps ? ` (${res.mbps.toFixed(0)} MiB/s)` : ''}; ${args['leave-running'] ? 'left running' : 'tree killed'}\n`);
    }
    return 0;
  },
};
export default dump;
