// tscr demo: the README quick start. Starts a bundled sample program (a
// counter built at npm install), checkpoints it, kills it, restores it, and
// shows it carrying on from where it was, with the same pid.
import type { Command } from '../context.ts';
import { TscrError } from '../../lib/errors.ts';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ticks(log: string): string[] {
  try { return readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('tick')); } catch { return []; }
}
const tickNo = (l: string | undefined) => (l ? Number(/tick (\d+)/.exec(l)?.[1] ?? 0) : 0);

const demo: Command = {
  command: 'demo',
  describe: 'Checkpoint and restore a sample program, to see tscr work',
  needsShim: true,
  builder: (y: any) => y
    .option('seconds', { type: 'number', default: 1.5, describe: 'how long to watch the program before and after' })
    .option('keep', { type: 'boolean', default: false, describe: 'leave the restored program running (and its files)' }),
  async run(args, ctx) {
    const { FIXTURES_BIN } = await import('../../lib/paths.ts');
    const { restoreNative } = await import('../../shim/native.ts');
    const { runInTracer } = await import('../../lib/tracer.ts');
    const { restore } = await import('../../lib/restore/engine.ts');
    const bin = join(FIXTURES_BIN, 'r-counter');
    if (!existsSync(bin)) throw new TscrError('E_NOT_FOUND', `the sample program is not built (${bin})`, { hint: 'run `npm install` (it needs a C compiler)' });
    const sh = restoreNative();
    const dir = mkdtempSync(join(tmpdir(), 'tscr-demo-'));
    const log = join(dir, 'counter.log');
    const out = join(dir, 'counter.out');
    const images = join(dir, 'images');
    const say = (s: string) => { if (!ctx.jsonMode) ctx.out(s + '\n'); };
    const show = (lines: string[]) => { for (const l of lines) say(`     | ${l}`); };
    const watchMs = Math.max(0.5, Number(args.seconds)) * 1000;
    let pid = 0;
    let restored = false;
    const st = Buffer.alloc(4);
    try {
      say('tscr demo: checkpoint a running program, kill it, bring it back.\n');
      pid = sh.start(bin, out, log);
      if (pid < 0) throw new TscrError('E_KERNEL', `could not start ${bin} (errno ${-pid})`);
      for (let i = 0; i < 200 && !existsSync(out + '.ready'); i++) await sleep(20);
      say(`1. started the sample counter, pid ${pid}; it prints a tick to ${log}`);
      await sleep(watchMs);
      const before = ticks(log);
      show(before.slice(-3));
      const t0 = performance.now();
      const d: any = await runInTracer('dump', { pid, dir: images, leaveRunning: false }, { onLog: (l, t) => ctx.log(l as 1, t) });
      const dumpMs = performance.now() - t0;
      sh.wait(pid, 0, st); // reap it: it was our child, and its pid must be free again
      const atDump = tickNo(ticks(log).at(-1));
      say(`2. dumped it to ${images} (${(d.bytes / 1048576).toFixed(1)} MiB of memory) in ${dumpMs.toFixed(0)} ms, then killed it`);
      say(`     process ${pid} is ${existsSync(`/proc/${pid}`) ? 'still there?!' : 'gone'}; the last tick was ${atDump}`);
      await sleep(500);
      const stillAt = tickNo(ticks(log).at(-1));
      const t1 = performance.now();
      const r = await restore({ dir: images, log: (l, t) => ctx.log(l, t) });
      const restMs = performance.now() - t1;
      restored = true;
      say(`3. restored it from the images in ${restMs.toFixed(0)} ms: pid ${r.root} again`);
      await sleep(watchMs);
      const after = ticks(log).filter((l) => tickNo(l) > atDump);
      show(after.slice(0, 3));
      const first = tickNo(after[0]);
      const ok = after.length > 0 && first === atDump + 1 && stillAt === atDump && after.every((l) => l.includes(`pid ${pid})`));
      // ask it to check itself, then stop it (unless --keep)
      let verdict = '';
      if (!args.keep) {
        process.kill(pid, 'SIGUSR1');
        for (let i = 0; i < 100 && !verdict; i++) { await sleep(20); if (existsSync(out)) verdict = readFileSync(out, 'utf8').trim(); }
        sh.wait(pid, 0, st);
      }
      const summary = { ok: ok && (args.keep || verdict === 'PASS'), pid, dir, dumpMs: Math.round(dumpMs), restoreMs: Math.round(restMs), tickAtDump: atDump, firstTickAfter: first, selfCheck: verdict || null };
      if (ctx.jsonMode) ctx.json(summary);
      else if (summary.ok) {
        say(`\n✓ the counter carried on from tick ${atDump} to ${first} and on, with the same pid${verdict ? `; its own check says ${verdict}` : ''}.`);
        say(args.keep ? `  it is still running (pid ${pid}); images and log are in ${dir}` : '  try it on your own program: tscr dump -t PID -D DIR; tscr restore -D DIR -d');
      } else {
        say(`\n✗ something is off: tick at dump ${atDump}, first tick after restore ${first}, self-check ${verdict || 'none'}`);
      }
      return summary.ok ? 0 : 1;
    } catch (e) {
      if (pid > 0) { sh.kill(pid, 9); sh.wait(pid, 0, st); }
      throw e;
    } finally {
      if (!args.keep) rmSync(dir, { recursive: true, force: true });
      void restored;
    }
  },
};
export default demo;
