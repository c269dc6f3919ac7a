// Archive benchmark, side by side in one run (issue 7):
//  1. size on real process memory (a Python process holding a large dict, a Node
//     process holding a large Map, the reference fixtures' pages): raw pages vs
//     tscr archive vs gzip -1 vs zstd -1 vs native lz4 -1
//  2. Wasm LZ4 compress/decompress MB/s vs native lz4 (`lz4 -b1`, same block size)
//  3. incremental: 5% of the pages changed -> bytes written vs a full archive
//  4. dump with compression of a ~1 GiB process, streaming from /proc/PID/mem
//     into the archive writer, with 0 and 2 compression workers
// Env: TSCR_BENCH_PY_ENTRIES (default 4,000,000 ≈ 1 GiB), TSCR_BENCH_NODE_ENTRIES (1,500,000).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { writeFileSync, readFileSync, rmSync, mkdtempSync, readdirSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveWriter } from '../lib/archive.ts';
import { core } from '../core-as/host.ts';
import { Scratch } from '../lib/archive-core.ts';
import { capture, presentRuns, forEachChunk } from './procmem.ts';
import { ROOT } from '../lib/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-bench-'));
const MB = 1e6;
const kids: ChildProcess[] = [];
process.on('exit', () => { for (const k of kids) { try { k.kill('SIGKILL'); } catch { /* */ } } rmSync(tmp, { recursive: true, force: true }); });

// Targets run in their own session with no pipes or sockets to us (so tscr dump can take them
// whole) and say they are ready by writing a file.
async function startTarget(cmd: string, args: string[]): Promise<ChildProcess> {
  const ready = join(tmp, `ready-${kids.length}`);
  const c = spawn(cmd, [...args, ready], { stdio: 'ignore', detached: true });
  kids.push(c);
  let exited = false;
  c.on('exit', () => { exited = true; });
  for (let i = 0; i < 6000 && !exited; i++) {
    if (existsSync(ready) && readFileSync(ready, 'utf8') === 'ready') return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${cmd} did not get ready`);
}
function stop(c: ChildProcess): void { c.kill('SIGKILL'); }

const PY = `
import sys, random, time
random.seed(7)
n = int(sys.argv[1])
d = {}
for i in range(n):
    d["user:%d:%d" % (i, random.randrange(10**9))] = (i, random.random(), "name-%d" % random.randrange(100000))
open(sys.argv[2], "w").write("ready")
while True:
    time.sleep(1000)
`;
const NODE = `
const n = Number(process.argv[1]);
const m = new Map();
for (let i = 0; i < n; i++) m.set('key' + i, { id: i, v: Math.random(), s: 'val' + (i % 1000), t: [i, i * 2] });
globalThis.keep = m;
require('fs').writeFileSync(process.argv[2], 'ready');
setInterval(() => {}, 1e9);
`;

async function archiveSize(pages: Buffer, workers = 2, parent?: string, path = join(tmp, 'a.tscr'), level = 1): Promise<{ bytes: number; secs: number; stats: any }> {
  const t = performance.now();
  const w = ArchiveWriter.create(path, { workers, parent, level });
  const s = w.pages('pages-1.img');
  for (let o = 0; o < pages.length; o += 4 << 20) await s.write(pages.subarray(o, Math.min(pages.length, o + (4 << 20))));
  await s.end();
  const st = await w.finish();
  return { bytes: st.archiveBytes, secs: (performance.now() - t) / 1000, stats: st };
}

function zstdSize(b: Buffer): number | null {
  const r = spawnSync('zstd', ['-1', '-c', '-q', '-T1'], { input: b, maxBuffer: 4 << 30 });
  return r.status === 0 ? (r.stdout as Buffer).length : null;
}
function lz4Size(b: Buffer): number | null {
  const r = spawnSync('lz4', ['-1', '-c', '-q'], { input: b, maxBuffer: 4 << 30 });
  return r.status === 0 ? (r.stdout as Buffer).length : null;
}

const rows: string[][] = [];
function pct(n: number | null, raw: number): string { return n === null ? 'n/a' : `${(100 * n / raw).toFixed(1)}%`; }

async function sizeRow(name: string, pages: Buffer): Promise<void> {
  const raw = pages.length;
  const a = await archiveSize(pages);
  const a2 = await archiveSize(pages, 2, undefined, join(tmp, 'a2.tscr'), 2);
  const gz = gzipSync(pages, { level: 1 }).length;
  rows.push([name, `${(raw / MB).toFixed(1)} MB`, pct(a.bytes, raw), pct(a2.bytes, raw), pct(gz, raw), pct(zstdSize(pages), raw), pct(lz4Size(pages), raw),
    `${a.stats.zeroPages}/${a.stats.dupPages}`]);
}

function table(head: string[], body: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i])).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|');
  for (const r of body) console.log(line(r));
}

// ---- 1. sizes
const pyEntries = Number(process.env.TSCR_BENCH_PY_ENTRIES ?? 4_000_000);
const nodeEntries = Number(process.env.TSCR_BENCH_NODE_ENTRIES ?? 1_500_000);
console.log(`starting python3 with a ${pyEntries}-entry dict and node with a ${nodeEntries}-entry Map ...`);
const py = await startTarget('python3', ['-c', PY, String(pyEntries)]);
const pyPages = await capture(py.pid!);
const nd = await startTarget(process.execPath, ['-e', NODE, String(nodeEntries)]);
const ndPages = await capture(nd.pid!);
stop(nd);

const shared = existsSync(join(ROOT, '..', 'shared', 'criu-images')) ? join(ROOT, '..', 'shared', 'criu-images') : '/work/shared/criu-images';
const fx: Buffer[] = [];
for (const d of readdirSync(shared)) {
  const im = join(shared, d, 'images');
  if (!existsSync(im)) continue;
  for (const f of readdirSync(im)) if (/^pages-\d+\.img$/.test(f)) fx.push(readFileSync(join(im, f)));
}
const fxPages = Buffer.concat(fx);

await sizeRow('python3 dict', pyPages);
await sizeRow('node Map', ndPages);
await sizeRow('reference fixtures (7 dumps)', fxPages);
console.log('\n## 1. Size of the pages (smaller is better; % of the raw CRIU pages)');
table(['memory', 'raw pages', 'tscr -1 (dump)', 'tscr -2 (convert)', 'gzip -1', 'zstd -1', 'lz4 -1 (native)', 'zero/dup pages'], rows);

// ---- 2. LZ4 throughput, same data, 256 KiB blocks; ours and native interleaved, best of 5 each
{
  const data = pyPages.subarray(0, Math.min(pyPages.length, 256 << 20));
  const ex = core();
  const a = new Scratch(), b = new Scratch(), c = new Scratch();
  const BS = 256 << 10, n = data.length;
  a.put(data); b.ensure(n + (n >> 7) + (1 << 20)); c.ensure(n + 64);
  const f = join(tmp, 'sample.bin');
  writeFileSync(f, data);
  let best = [0, 0], nat = [0, 0], ratio = 0;
  for (let rep = 0; rep < 5; rep++) {
    let t = performance.now(); let out = 0; const sizes: number[] = [];
    for (let o = 0; o < n; o += BS) { const len = Math.min(BS, n - o); const r = ex.lz4_compress(a.ptr, o, len, b.ptr, out, ex.lz4_bound(len)); sizes.push(r); out += r; }
    const tc = (performance.now() - t) / 1000;
    t = performance.now(); let io = 0, oo = 0;
    for (const s of sizes) { const r = ex.lz4_decompress(b.ptr, io, s, c.ptr, oo, BS); io += s; oo += r; }
    const td = (performance.now() - t) / 1000;
    if (oo !== n || !Buffer.from(c.view(0, n)).equals(data)) throw new Error('LZ4 round trip failed in the bench');
    best = [Math.max(best[0], n / MB / tc), Math.max(best[1], n / MB / td)];
    ratio = out / n;
    const r = spawnSync('lz4', ['-b1', '-B5', '-i1', f], { encoding: 'utf8' });
    const m = /([\d.]+) MB\/s\s*,\s*([\d.]+) MB\/s/.exec(((r.stdout ?? '') + (r.stderr ?? '')).split('\r').filter((x) => x.includes(',')).at(-1) ?? '');
    if (m) nat = [Math.max(nat[0], Number(m[1])), Math.max(nat[1], Number(m[2]))];
  }
  console.log(`\n## 2. LZ4 throughput (python3 heap, ${(n / MB).toFixed(0)} MB, 256 KiB blocks, one core, MB = 10^6 bytes, best of 5, interleaved)`);
  table(['codec', 'compress MB/s', 'decompress MB/s', 'ratio'], [
    ['tscr Wasm LZ4', best[0].toFixed(0), best[1].toFixed(0), `${(ratio * 100).toFixed(1)}%`],
    ['native liblz4 (lz4 -b1 -B5)', nat[0].toFixed(0), nat[1].toFixed(0), ''],
    ['Wasm / native', `${(100 * best[0] / nat[0]).toFixed(0)}%`, `${(100 * best[1] / nat[1]).toFixed(0)}%`, ''],
  ]);
}

// ---- 3. incremental
{
  const parent = join(tmp, 'parent.tscr');
  await archiveSize(pyPages, 2, undefined, parent);
  const next = Buffer.from(pyPages);
  const n = next.length / 4096;
  let changed = 0;
  for (let i = 0; i < n; i += 20) { next.writeUInt32LE((0x9e3779b1 * (i + 1)) >>> 0, i * 4096 + ((i * 64) % 4000)); changed++; }
  const full = await archiveSize(next, 2, undefined, join(tmp, 'full.tscr'));
  const inc = await archiveSize(next, 2, parent, join(tmp, 'inc.tscr'));
  console.log(`\n## 3. Incremental dump, ${changed} of ${n} pages changed (${(100 * changed / n).toFixed(1)}%)`);
  table(['archive', 'bytes written', '% of full', 'seconds'], [
    ['full', String(full.bytes), '100%', full.secs.toFixed(2)],
    ['incremental (--prev)', String(inc.bytes), `${(100 * inc.bytes / full.bytes).toFixed(1)}%`, inc.secs.toFixed(2)],
  ]);
}

// ---- 4. dump with compression, streaming from the live process
{
  const runs = presentRuns(py.pid!);
  const bytes = runs.reduce((a, r) => a + r.pages, 0) * 4096;
  const res: string[][] = [];
  // read-only baseline: how fast the pages can be read at all
  let t = performance.now();
  await forEachChunk(py.pid!, runs, () => {});
  const readSecs = (performance.now() - t) / 1000;
  res.push(['read /proc/PID/mem only', '-', (bytes / MB / readSecs).toFixed(0), '-', '-']);
  for (const workers of [0, 2]) {
    const path = join(tmp, `dump-${workers}.tscr`);
    t = performance.now();
    const cpu0 = process.cpuUsage();
    const w = ArchiveWriter.create(path, { workers });
    const s = w.pages('pages-1.img');
    await forEachChunk(py.pid!, runs, (b) => s.write(b));
    await s.end();
    const st = await w.finish();
    const secs = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    res.push([`read + hash + dedup + LZ4 + write, ${workers} workers`, String(workers), (bytes / MB / secs).toFixed(0), ((cpu.user + cpu.system) / 1e6).toFixed(2), `${(100 * st.archiveBytes / bytes).toFixed(1)}%`]);
    rmSync(path);
  }
  // the real thing: tscr dump (left running), to a directory and straight to an archive
  const cli = join(ROOT, 'bin', 'tscr.js');
  if (existsSync(join(ROOT, 'dist', 'tscr.js'))) {
    for (const [label, extra] of [['tscr dump -R -D DIR (plain CRIU images)', [] as string[]], ['tscr dump -R --compress (archive, 2 workers)', ['--compress']]] as const) {
      const out = join(tmp, extra.length ? 'dump.tscr' : 'dumpdir');
      const t1 = performance.now();
      const r = spawnSync(process.execPath, [cli, 'dump', '-t', String(py.pid), '-R', '--json', ...extra, '-D', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
      const secs = (performance.now() - t1) / 1000;
      if (r.status !== 0) { res.push([label, '', `failed: ${(r.stderr || '').split('\n')[0]}`, '', '']); continue; }
      const j = JSON.parse(r.stdout);
      const size = j.archive ? `${(100 * j.archive.archiveBytes / j.bytes).toFixed(1)}%` : '100%';
      res.push([label, extra.length ? '2' : '-', `${(j.bytes / MB / secs).toFixed(0)} (pages ${(j.bytes / MB / (j.seconds || secs)).toFixed(0)})`, '-', size]);
      rmSync(out, { recursive: true, force: true });
    }
  }
  console.log(`\n## 4. Dump with compression of the python3 process (${(bytes / 2 ** 30).toFixed(2)} GiB of present pages)`);
  table(['pipeline', 'workers', 'MB/s (wall)', 'CPU s (all threads)', 'size'], res);
  const { loadavg } = await import('node:os');
  console.log(`(load average during the run: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} CPUs)`);
}
stop(py);
