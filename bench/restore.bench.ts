// Restore throughput and start-up overhead.
// A synthetic checkpoint: a tscr dump of a small program plus one anonymous VMA of
// SIZE bytes, every page present and patterned (pages image in the page
// cache, as right after a dump). `tscr restore -d --json` reports how long the
// memory phase took; MiB/s = bytes / memory time. The start-up overhead is the
// wall time of the whole `tscr restore` of the small program.
// Reference: process_vm_writev into fresh memory and memcpy (notes: 7.8 / 12.4 GB/s).
// CRIU 4.2 is not packaged (Debian's 3.17 fails on this kernel), so
// there is a CRIU column only where a locally built CRIU 4.x is found
// (TSCR_CRIU=/path/to/criu, or /tmp/criu-build/criu/criu; never committed).
// Usage: npm run bench -- restore   (TSCR_BENCH_SIZES=64,1024 in MiB)
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tscr, pidExists, killAll, waitGone, startOwnSession } from '../test/helpers/restore.ts';
import { readImage, writeImage } from '../lib/images.ts';
import { findCriu } from '../test/helpers/criu.ts';

// The base checkpoint is a tscr dump of the r-counter fixture (its own pid, so
// the bench does not collide with anything using the CRIU reference pids).
const base = await startOwnSession('r-counter');
const PID = base.pid;
const baseImg = join(base.dir, 'img');
mkdirSync(baseImg);
{
  const d = tscr(['dump', '-t', String(PID), '-D', baseImg]);
  if (d.code !== 0) { console.log(`skip: dump failed: ${d.stderr}`); process.exit(0); }
  await waitGone([PID], 8000);
}

function makeCheckpoint(mib: number): string {
  const dir = mkdtempSync(join(tmpdir(), `tscr-bench-restore-${mib}-`));
  for (const f of readdirSync(baseImg)) copyFileSync(join(baseImg, f), join(dir, f));
  const mm = readImage(join(dir, `mm-${PID}.img`));
  const pm = readImage(join(dir, `pagemap-${PID}.img`));
  const start = 0x7e0000000000n, len = BigInt(mib) << 20n;
  mm.entries[0].vmas.push({ start: '0x' + start.toString(16), end: '0x' + (start + len).toString(16), pgoff: 0, shmid: 0,
    prot: 'PROT_READ | PROT_WRITE', flags: 'MAP_PRIVATE | MAP_ANON', status: 'VMA_AREA_REGULAR | VMA_ANON_PRIVATE', fd: -1 });
  mm.entries[0].vmas.sort((a: any, b: any) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
  // pages are in pagemap order: put the new run where its address sorts
  const pagesFile = join(dir, `pages-${pm.entries[0].pages_id}.img`);
  const old = readFileSync(pagesFile);
  const ents = pm.entries.slice(1);
  let off = 0, at = 0, insertAt = ents.length;
  for (let i = 0; i < ents.length; i++) {
    if (BigInt(ents[i].vaddr) > start) { insertAt = i; at = off; break; }
    if (String(ents[i].flags ?? '').includes('PE_PRESENT')) off += Number(ents[i].nr_pages) * 4096;
    at = off;
  }
  ents.splice(insertAt, 0, { vaddr: '0x' + start.toString(16), compat_nr_pages: 0, flags: 'PE_PRESENT', nr_pages: Number(len / 4096n) });
  pm.entries = [pm.entries[0], ...ents];
  writeImage(join(dir, `mm-${PID}.img`), mm);
  writeImage(join(dir, `pagemap-${PID}.img`), pm);
  const fd = openSync(pagesFile, 'w');
  writeSync(fd, old, 0, at);
  const chunk = Buffer.alloc(4 << 20);
  for (let i = 0; i < chunk.length; i += 8) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
  for (let done = 0; done < mib; done += 4) writeSync(fd, chunk, 0, Math.min(4, mib - done) << 20);
  writeSync(fd, old, at, old.length - at);
  closeSync(fd);
  return dir;
}

const CRIU = findCriu();

/** CRIU 4.x restoring the same checkpoint (wall time of `criu restore -d`), self-checked too. */
async function criuOnce(dir: string): Promise<number | null> {
  if (!CRIU) return null;
  await waitGone([PID], 5000);
  if (pidExists(PID)) return null;
  const t0 = performance.now();
  const r = spawnSync(CRIU, ['restore', '-D', dir, '-d', '-o', join(dir, 'criu-restore.log')], { encoding: 'utf8', timeout: 300000 });
  const wall = performance.now() - t0;
  if (r.status !== 0) { let log = ''; try { log = readFileSync(join(dir, 'criu-restore.log'), 'utf8'); } catch { /* */ } console.log(`criu restore failed: ${log.split('\n').filter((l) => /rror/.test(l)).slice(0, 5).join('\n')}`); killAll([PID]); return null; }
  rmSync(base.out, { force: true });
  process.kill(PID, 'SIGUSR1');
  let v = '';
  for (let i = 0; i < 400 && !v; i++) { await new Promise((res) => setTimeout(res, 25)); if (existsSync(base.out)) v = readFileSync(base.out, 'utf8'); }
  killAll([PID]);
  return v === 'PASS' ? wall : null;
}

async function once(dir: string, env: Record<string, string> = {}): Promise<{ wall: number; res: any } | null> {
  await waitGone([PID], 5000);
  if (pidExists(PID)) { console.log(`skip: pid ${PID} is taken`); return null; }
  const t0 = performance.now();
  const r = tscr(['restore', '-D', dir, '-d', '--json'], 300000, env);
  const wall = performance.now() - t0;
  if (r.code === 0) {
    // the restored program checks itself: the bench measures only restores that work
    rmSync(base.out, { force: true });
    process.kill(PID, 'SIGUSR1');
    let v = '';
    for (let i = 0; i < 400 && !v; i++) { await new Promise((res) => setTimeout(res, 25)); if (existsSync(base.out)) v = readFileSync(base.out, 'utf8'); }
    if (v !== 'PASS') { console.log(`restored program says: ${v || 'nothing'}`); killAll([PID]); return null; }
  }
  killAll([PID]);
  if (r.code !== 0) { console.log(`restore failed: ${r.stderr}`); return null; }
  return { wall, res: JSON.parse(r.stdout) };
}

const sizes = (process.env.TSCR_BENCH_SIZES ?? '64,1024').split(',').map(Number);
const rows: string[] = [];
rows.push('| checkpoint | bytes restored | memory phase | MiB/s | tscr total (in process) | wall incl. node start-up | CRIU 4.2 wall |');
rows.push('|---|---|---|---|---|---|---|');
// start-up: the small image, best of 3
{
  const dir = baseImg;
  let best: any = null;
  for (let i = 0; i < 3; i++) { const o = await once(dir); if (o && (!best || o.wall < best.wall)) best = o; }
  let cbest: number | null = null;
  for (let i = 0; i < 3; i++) { const c = await criuOnce(dir); if (c !== null && (cbest === null || c < cbest)) cbest = c; }
  if (best) rows.push(`| r-counter (tscr dump, ${(best.res.bytes / 1024).toFixed(0)} KiB) | ${best.res.bytes} | ${best.res.ms.memory} ms | - | ${best.res.ms.total} ms | ${best.wall.toFixed(0)} ms | ${cbest === null ? 'n/a' : cbest.toFixed(0) + ' ms'} |`);
}
for (const mib of sizes) {
  const dir = makeCheckpoint(mib);
  try {
    // tscr and CRIU alternate (best of 3 each), so both see the same machine load
    let best: any = null;
    let c: number | null = null;
    for (let i = 0; i < 3; i++) {
      const o = await once(dir); if (o && (!best || o.res.ms.memory < best.res.ms.memory)) best = o;
      const w = await criuOnce(dir); if (w !== null && (c === null || w < c)) c = w;
    }
    if (best) {
      const rate = best.res.bytes / 1048576 / (best.res.ms.memory / 1000);
      const crate = c === null ? '' : ` (${(mib / (c / 1000)).toFixed(0)} MiB/s overall)`;
      rows.push(`| r-counter + ${mib} MiB anon | ${(best.res.bytes / 1048576).toFixed(1)} MiB | ${best.res.ms.memory} ms | ${rate.toFixed(0)} | ${best.res.ms.total} ms | ${best.wall.toFixed(0)} ms | ${c === null ? 'n/a' : c.toFixed(0) + ' ms' + crate} |`);
    }
    if (mib <= 64) {
      // the other way to fill memory: process_vm_writev from tscr (TSCR_FILL=vm)
      const o = await once(dir, { TSCR_FILL: 'vm' });
      if (o) rows.push(`| r-counter + ${mib} MiB anon, process_vm_writev fill | ${(o.res.bytes / 1048576).toFixed(1)} MiB | ${o.res.ms.memory} ms | ${(o.res.bytes / 1048576 / (o.res.ms.memory / 1000)).toFixed(0)} | ${o.res.ms.total} ms | ${o.wall.toFixed(0)} ms | |`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
// a tree: r-tree (6 processes in 3 sessions/groups); tscr vs CRIU wall, alternating, best of 3
{
  const t = await startOwnSession('r-tree');
  const img = join(t.dir, 'img');
  mkdirSync(img);
  const d = tscr(['dump', '-t', String(t.pid), '-D', img]);
  if (d.code === 0) {
    await waitGone([t.pid], 8000);
    const treePids = (readImage(join(img, 'pstree.img')).entries as any[]).map((e) => Number(e.pid));
    let tb: any = null, cb: number | null = null;
    for (let i = 0; i < 3; i++) {
      await waitGone(treePids, 5000);
      const t0 = performance.now();
      const r = tscr(['restore', '-D', img, '-d', '--json']);
      const wall = performance.now() - t0;
      killAll(treePids);
      if (r.code === 0 && (!tb || wall < tb.wall)) tb = { wall, res: JSON.parse(r.stdout) };
      if (CRIU) {
        await waitGone(treePids, 5000);
        const c0 = performance.now();
        const c = spawnSync(CRIU, ['restore', '-D', img, '-d', '-o', join(t.dir, 'criu.log')], { encoding: 'utf8' });
        const cw = performance.now() - c0;
        killAll(treePids);
        if (c.status === 0 && (cb === null || cw < cb)) cb = cw;
      }
    }
    if (tb) rows.push(`| r-tree (6 processes, sessions and groups) | ${tb.res.bytes} | ${tb.res.ms.memory} ms | - | ${tb.res.ms.total} ms | ${tb.wall.toFixed(0)} ms | ${cb === null ? 'n/a' : cb.toFixed(0) + ' ms'} |`);
    await waitGone(treePids, 5000);
  }
  rmSync(t.dir, { recursive: true, force: true });
}
console.log(rows.join('\n'));
rmSync(base.dir, { recursive: true, force: true });
