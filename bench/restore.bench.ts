// Restore throughput and start-up overhead.
// A synthetic checkpoint: CRIU 4.2's `loop` image plus one anonymous VMA of
// SIZE bytes, every page present and patterned (pages image in the page
// cache, as right after a dump). `tscr restore -d --json` reports how long the
// memory phase took; MiB/s = bytes / memory time. The start-up overhead is the
// wall time of the whole `tscr restore` of the small `loop` image.
// Reference: process_vm_writev into fresh memory and memcpy (notes: 7.8 / 12.4 GB/s).
// CRIU 4.2 is not on this machine (Debian's 3.17 fails on this kernel), so
// there is no side-by-side CRIU column.
// Usage: npm run bench -- restore   (TSCR_BENCH_SIZES=64,1024 in MiB)
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tscr, pidExists, killAll, waitGone } from '../test/helpers/restore.ts';

const SHARED = process.env.TSCR_SHARED ?? '/work/shared/criu-images';
const src = join(SHARED, 'loop');
if (!existsSync(src)) { console.log('skip: reference images not present'); process.exit(0); }
mkdirSync('/tmp/tscr-fixtures/out', { recursive: true });
copyFileSync(join(src, 'bin'), '/tmp/tscr-fixtures/loop');
chmodSync('/tmp/tscr-fixtures/loop', 0o755);
const PID = JSON.parse(readFileSync(join(src, 'crit', 'pstree.json'), 'utf8')).entries[0].pid;

function makeCheckpoint(mib: number): string {
  const dir = mkdtempSync(join(tmpdir(), `tscr-bench-restore-${mib}-`));
  for (const f of readdirSync(join(src, 'crit'))) copyFileSync(join(src, 'crit', f), join(dir, f));
  const pages = readFileSync(join(src, 'images', 'pages-1.img'));
  const mmp = join(dir, `mm-${PID}.json`), pmp = join(dir, `pagemap-${PID}.json`);
  const mm = JSON.parse(readFileSync(mmp, 'utf8'));
  const pm = JSON.parse(readFileSync(pmp, 'utf8'));
  const start = 0x7f0000000000n, len = BigInt(mib) << 20n;
  mm.entries[0].vmas.push({ start: '0x' + start.toString(16), end: '0x' + (start + len).toString(16), pgoff: 0, shmid: 0,
    prot: 'PROT_READ | PROT_WRITE', flags: 'MAP_PRIVATE | MAP_ANON', status: 'VMA_AREA_REGULAR | VMA_ANON_PRIVATE', fd: -1 });
  mm.entries[0].vmas.sort((a: any, b: any) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
  pm.entries.push({ vaddr: '0x' + start.toString(16), compat_nr_pages: 0, flags: 'PE_PRESENT', nr_pages: Number(len / 4096n) });
  writeFileSync(mmp, JSON.stringify(mm));
  writeFileSync(pmp, JSON.stringify(pm));
  const fd = openSync(join(dir, 'pages-1.img'), 'w');
  writeSync(fd, pages);
  const chunk = Buffer.alloc(4 << 20);
  for (let i = 0; i < chunk.length; i += 8) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
  for (let done = 0; done < mib; done += 4) writeSync(fd, chunk, 0, Math.min(4, mib - done) << 20);
  closeSync(fd);
  return dir;
}

async function once(dir: string, env: Record<string, string> = {}): Promise<{ wall: number; res: any } | null> {
  await waitGone([PID], 5000);
  if (pidExists(PID)) { console.log(`skip: pid ${PID} is taken`); return null; }
  const t0 = performance.now();
  const r = tscr(['restore', '-D', dir, '-d', '--json'], 300000, env);
  const wall = performance.now() - t0;
  killAll([PID]);
  if (r.code !== 0) { console.log(`restore failed: ${r.stderr}`); return null; }
  return { wall, res: JSON.parse(r.stdout) };
}

const sizes = (process.env.TSCR_BENCH_SIZES ?? '64,1024').split(',').map(Number);
const rows: string[] = [];
rows.push('| checkpoint | bytes restored | memory phase | MiB/s | tscr total (in process) | wall incl. node start-up |');
rows.push('|---|---|---|---|---|---|');
// start-up: the small image, best of 3
{
  const dir = join(src, 'images');
  let best: any = null;
  for (let i = 0; i < 3; i++) { const o = await once(dir); if (o && (!best || o.wall < best.wall)) best = o; }
  if (best) rows.push(`| loop (CRIU 4.2 image, ${(best.res.bytes / 1024).toFixed(0)} KiB) | ${best.res.bytes} | ${best.res.ms.memory} ms | - | ${best.res.ms.total} ms | ${best.wall.toFixed(0)} ms |`);
}
for (const mib of sizes) {
  const dir = makeCheckpoint(mib);
  try {
    let best: any = null;
    for (let i = 0; i < (mib > 512 ? 2 : 3); i++) { const o = await once(dir); if (o && (!best || o.res.ms.memory < best.res.ms.memory)) best = o; }
    if (best) {
      const rate = best.res.bytes / 1048576 / (best.res.ms.memory / 1000);
      rows.push(`| loop + ${mib} MiB anon | ${(best.res.bytes / 1048576).toFixed(1)} MiB | ${best.res.ms.memory} ms | ${rate.toFixed(0)} | ${best.res.ms.total} ms | ${best.wall.toFixed(0)} ms |`);
    }
    if (mib <= 64) {
      // the other way to fill memory: process_vm_writev from tscr (TSCR_FILL=vm)
      const o = await once(dir, { TSCR_FILL: 'vm' });
      if (o) rows.push(`| loop + ${mib} MiB anon, process_vm_writev fill | ${(o.res.bytes / 1048576).toFixed(1)} MiB | ${o.res.ms.memory} ms | ${(o.res.bytes / 1048576 / (o.res.ms.memory / 1000)).toFixed(0)} | ${o.res.ms.total} ms | ${o.wall.toFixed(0)} ms |`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
console.log(rows.join('\n'));
