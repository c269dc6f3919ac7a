// fd kinds: how fast memfd contents (shmem) go through dump and restore.
// A process holds a memfd of SIZE MiB, every page patterned. Columns: tscr
// dump and restore wall time (whole command, memfd pages are most of the
// work) and MiB/s over SIZE; reference: `cp` of the memfd through
// /proc/PID/fd (plain read + write of the same bytes), and CRIU 4.2 dump and
// restore of the same process where a CRIU 4.x binary is found (TSCR_CRIU or
// /tmp/criu-build/criu/criu; CRIU 4.2 is not packaged here).
// Usage: npm run bench -- fdkinds   (TSCR_BENCH_SIZES=64,256 in MiB)
import { mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tscr, startOwnSession, verdict, killAll, waitGone, descendants } from '../test/helpers/restore.ts';
import { findCriu } from '../test/helpers/criu.ts';

const sizes = (process.env.TSCR_BENCH_SIZES ?? '64,256').split(',').map(Number);
const CRIU = findCriu();
const rate = (mib: number, ms: number) => (ms > 0 ? (mib / (ms / 1000)).toFixed(0) : '-');
const time = (f: () => void) => { const t = performance.now(); f(); return performance.now() - t; };

console.log('| MiB | tscr dump ms (MiB/s) | tscr restore ms (MiB/s) | cp via /proc ms (MiB/s) | criu dump ms | criu restore ms |');
console.log('|---|---|---|---|---|---|');
for (const mib of sizes) {
  const row: string[] = [String(mib)];
  const fx = await startOwnSession('fd-bigmemfd', [String(mib)]);
  let pids = descendants(fx.pid);
  const img = join(fx.dir, 'img');
  mkdirSync(img);
  try {
    const tcp = time(() => spawnSync('cp', [`/proc/${fx.pid}/fd/20`, join(fx.dir, 'copy')]));
    rmSync(join(fx.dir, 'copy'), { force: true });
    let d: any;
    const td = time(() => { d = tscr(['dump', '-t', String(fx.pid), '-D', img]); });
    if (d.code !== 0) throw new Error(d.stderr);
    await waitGone(pids, 8000);
    let r: any;
    const tr = time(() => { r = tscr(['restore', '-D', img, '-d']); });
    if (r.code !== 0) throw new Error(r.stderr);
    pids = descendants(fx.pid);
    const v = await verdict(fx.pid, fx.out, 30000);
    if (v !== 'PASS') throw new Error(`restored process says ${v}`);
    row.push(`${td.toFixed(0)} (${rate(mib, td)})`, `${tr.toFixed(0)} (${rate(mib, tr)})`, `${tcp.toFixed(0)} (${rate(mib, tcp)})`);
  } finally { killAll(pids); rmSync(fx.dir, { recursive: true, force: true }); }
  if (CRIU) {
    const fx2 = await startOwnSession('fd-bigmemfd', [String(mib)]);
    let pids2 = descendants(fx2.pid);
    const img2 = join(fx2.dir, 'img');
    mkdirSync(img2);
    try {
      const cd = time(() => spawnSync(CRIU, ['dump', '-t', String(fx2.pid), '-D', img2, '-o', 'd.log']));
      await waitGone(pids2, 8000);
      const cr = time(() => spawnSync(CRIU, ['restore', '-D', img2, '-d', '-o', 'r.log']));
      pids2 = descendants(fx2.pid);
      const v = await verdict(fx2.pid, fx2.out, 30000);
      row.push(`${cd.toFixed(0)}`, `${cr.toFixed(0)}${v === 'PASS' ? '' : ` (${v})`}`);
    } finally { killAll(pids2); rmSync(fx2.dir, { recursive: true, force: true }); }
  } else row.push('-', '-');
  console.log(`| ${row.join(' | ')} |`);
}
