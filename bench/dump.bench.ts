// Dump throughput and start-up overhead.
// - bigmem fixtures of 64 MiB / 1 GiB (/ 4 GiB with TSCR_BENCH_SIZES=64,1024,4096):
//   `tscr dump -R --json` (images to the page cache, no fsync); MiB/s of the
//   page phase as tscr reports it, and the wall time of the whole command.
// - Reference on the same machine in the same run: writing the same number of
//   bytes from memory to a file in the same directory (page-cache write limit),
//   and reading them from the process with process_vm_readv alone (no write).
// - CRIU 4.x side by side when one is available ($TSCR_CRIU, or the v4.2 build in
//   /tmp/criu-build; Debian's criu 3.17 cannot dump on this kernel): wall time of
//   `criu dump -R` of the same process, and its own memdump_time from stats-dump.
// - Dumps that fsync (the default without -R; here `-R --sync`): page phase and
//   frozen time with early writeback (sync_file_range during the copy) and
//   without it (TSCR_NO_EARLY_WRITEBACK=1), alternating in the same run.
// - The same -R dump into tmpfs (/dev/shm): the copy engine without the disk's
//   dirty-page throttling, which caps page-cache writes once ~1.5-2 GB are dirty.
// - Start-up overhead: wall time of `tscr dump -R` of the small `loop` fixture
//   against `node -e 0`.
// Usage: npm run bench -- dump
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, mkdirSync, existsSync } from 'node:fs';
import { ROOT } from '../lib/paths.ts';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, runTscr } from '../test/helpers/fixture.ts';
import { findCriu } from '../test/helpers/criu.ts';

const sizes = (process.env.TSCR_BENCH_SIZES ?? '64,1024').split(',').map(Number);
const reps = Number(process.env.TSCR_BENCH_REPS ?? 3);
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

function pageCacheWrite(mib: number, dir: string): number {
  const buf = Buffer.alloc(64 << 20, 0x5a);
  const f = join(dir, 'ref.bin');
  const fd = openSync(f, 'w');
  const t0 = performance.now();
  for (let done = 0; done < mib; done += 64) writeSync(fd, buf, 0, Math.min(64, mib - done) << 20);
  const dt = performance.now() - t0;
  closeSync(fd);
  rmSync(f);
  return mib / (dt / 1000);
}

const criu = findCriu();
function criuDump(pid: number, dir: string): { wall: number; memMiBs: number } | null {
  if (!criu) return null;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const r = spawnSync(criu, ['dump', '-t', String(pid), '-D', dir, '-R', '-o', 'dump.log']);
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) return null;
  const st = spawnSync(process.execPath, [join(ROOT, 'bin', 'tscr.js'), 'decode', '-i', join(dir, 'stats-dump')], { encoding: 'utf8' });
  let memMiBs = 0;
  try { const d = JSON.parse(st.stdout).entries[0].dump; memMiBs = (d.pages_written * 4096 / 1048576) / (d.memdump_time / 1e6); } catch { /* no stats */ }
  return { wall, memMiBs };
}

const rows = ['| size | tscr page phase MiB/s | tscr wall s | CRIU 4.2 memdump MiB/s | CRIU 4.2 wall s | page-cache write limit MiB/s | tscr frozen ms |', '|---|---|---|---|---|---|---|'];
const syncRows = ['| size | --sync, early writeback: page phase MiB/s / frozen ms | --sync, without: MiB/s / frozen ms | -R into tmpfs MiB/s |', '|---|---|---|---|'];
async function dumpOnce(pid: number, dir: string, extra: string[], env: Record<string, string> = {}): Promise<{ mbps: number; frozenMs: number } | null> {
  rmSync(dir, { recursive: true, force: true });
  const r = await runTscr(['dump', '-t', String(pid), '-D', dir, '-R', '--json', ...extra], { timeoutMs: 600000, env });
  rmSync(dir, { recursive: true, force: true });
  if (r.code !== 0) { console.log(`dump failed: ${r.stderr}`); return null; }
  const j = JSON.parse(r.stdout);
  return { mbps: j.mbps, frozenMs: j.frozenMs };
}
for (const mib of sizes) {
  const fx = await startFixture('bigmem', [String(mib)]);
  const dir = mkdtempSync(join(tmpdir(), `tscr-bench-dump-${mib}-`));
  try {
    const rates: number[] = [], walls: number[] = [], frozen: number[] = [], refs: number[] = [], cw: number[] = [], cm: number[] = [];
    for (let i = 0; i < reps; i++) {
      rmSync(dir, { recursive: true, force: true });
      const t0 = performance.now();
      const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R', '--json'], { timeoutMs: 600000 });
      const wall = (performance.now() - t0) / 1000;
      if (r.code !== 0) { console.log(`dump failed: ${r.stderr}`); break; }
      const res = JSON.parse(r.stdout);
      rates.push(res.mbps); walls.push(wall); frozen.push(res.frozenMs);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      refs.push(pageCacheWrite(mib, dir));
      const c = criuDump(fx.pid, dir);
      if (c) { cw.push(c.wall); cm.push(c.memMiBs); }
    }
    const wbOn: { mbps: number; frozenMs: number }[] = [], wbOff: typeof wbOn = [], shm: number[] = [];
    const shmDir = existsSync('/dev/shm') ? join('/dev/shm', `tscr-bench-dump-${process.pid}`) : null;
    for (let i = 0; i < reps; i++) {
      const a = await dumpOnce(fx.pid, dir, ['--sync']);
      const b = await dumpOnce(fx.pid, dir, ['--sync'], { TSCR_NO_EARLY_WRITEBACK: '1' });
      if (a) wbOn.push(a);
      if (b) wbOff.push(b);
      if (shmDir) { const c = await dumpOnce(fx.pid, shmDir, []); if (c) shm.push(c.mbps); }
    }
    const pair = (a: { mbps: number; frozenMs: number }[]) => (a.length ? `${med(a.map((x) => x.mbps)).toFixed(0)} / ${med(a.map((x) => x.frozenMs))}` : 'n/a');
    syncRows.push(`| ${mib} MiB | ${pair(wbOn)} | ${pair(wbOff)} | ${shm.length ? med(shm).toFixed(0) : 'n/a'} |`);
    const check = await fx.check(60000);
    const na = (a: number[], d: number) => (a.length ? med(a).toFixed(d) : 'n/a');
    rows.push(`| ${mib} MiB | ${med(rates).toFixed(0)} | ${med(walls).toFixed(2)} | ${na(cm, 0)} | ${na(cw, 2)} | ${med(refs).toFixed(0)} | ${med(frozen)} |${check === 'PASS' ? '' : ' (fixture: ' + check + ')'}`);
  } finally {
    fx.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(rows.join('\n'));
console.log('\n' + syncRows.join('\n'));

// start-up overhead
const fx = await startFixture('loop');
const dir = mkdtempSync(join(tmpdir(), 'tscr-bench-dump-small-'));
try {
  const walls: number[] = [], nodes: number[] = [];
  for (let i = 0; i < 5; i++) {
    rmSync(dir, { recursive: true, force: true });
    let t0 = performance.now();
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R', '--json']);
    walls.push((performance.now() - t0) / 1000);
    if (r.code !== 0) throw new Error(r.stderr);
    t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    nodes.push((performance.now() - t0) / 1000);
  }
  console.log(`\nsmall process (loop fixture): tscr dump -R wall ${med(walls).toFixed(3)} s (node -e 0: ${med(nodes).toFixed(3)} s; target <= 0.3 s)`);
} finally {
  fx.kill();
  rmSync(dir, { recursive: true, force: true });
}
