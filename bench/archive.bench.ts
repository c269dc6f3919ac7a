// Archive benchmark, side by side in one run (issue 7):
//  1. size on real process memory (a Python process holding a large dict, a Node
//     process holding a large Map, the reference fixtures' pages): raw pages vs
//     tscr archive vs gzip -1 vs zstd -1 vs native lz4 -1
//  2. Wasm LZ4 compress/decompress MB/s vs native lz4 (`lz4 -b1`, same block size)
//  3. incremental: 5% of the pages changed -> bytes written vs a full archive
//  4. dump with compression of ~1 GiB processes (the python3 dict and a mixed-content
//     process), the real `tscr dump --compress`, side by side with a plain `tscr dump` and
//     native `lz4 -1` of the same pages (one process and two in parallel)
// Env: TSCR_BENCH_PY_ENTRIES (default 4,000,000 ≈ 1 GiB), TSCR_BENCH_NODE_ENTRIES (1,500,000).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { writeFileSync, readFileSync, rmSync, mkdtempSync, readdirSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArchiveWriter } from '../lib/archive.ts';
import { core } from '../core-as/host.ts';
import { Scratch } from '../lib/archive-core.ts';
import { capture, presentRuns, PY_DICT as PY } from './procmem.ts';
import { ROOT } from '../lib/paths.ts';
import { DUMP_LEVEL } from '../lib/archive-dump.ts';
import { defaultWorkers } from '../lib/archive-pool.ts';

/** The dump's compression threads here: its writer's own thread plus defaultWorkers() workers. */
const workersLabel = (): string => { const n = defaultWorkers(); return `writer + ${n} worker${n === 1 ? '' : 's'}`; };

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
  const af = await archiveSize(pages, 2, undefined, join(tmp, 'af.tscr'), DUMP_LEVEL);
  const a2 = await archiveSize(pages, 2, undefined, join(tmp, 'a2.tscr'), 2);
  const gz = gzipSync(pages, { level: 1 }).length;
  rows.push([name, `${(raw / MB).toFixed(1)} MB`, pct(af.bytes, raw), pct(a.bytes, raw), pct(a2.bytes, raw), pct(gz, raw), pct(zstdSize(pages), raw), pct(lz4Size(pages), raw),
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
// TSCR_BENCH_ONLY=4 runs only section 4 (the dump with compression)
const only4 = process.env.TSCR_BENCH_ONLY === '4';
if (!only4) {
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
table(['memory', 'raw pages', 'tscr dump (LZ4 fast=2)', 'tscr -1', 'tscr -2 (convert)', 'gzip -1', 'zstd -1', 'lz4 -1 (native)', 'zero/dup pages'], rows);

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

// Section 4 runs in a process of its own (as with TSCR_BENCH_ONLY=4): this one now holds ~2 GB
// of page buffers, and each spawnSync forks it (25 ms for /bin/true here, against 2.4 ms from a
// small process), which would be counted in the wall time of every dump measured.
stop(py);
const r4 = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], { env: { ...process.env, TSCR_BENCH_ONLY: '4' }, stdio: 'inherit' });
process.exit(r4.status ?? 1);
}

// ---- 4. dump with compression, 1 GiB, both cores: the real CLI, side by side with a plain
// dump and with native lz4 -1 (one process, and two processes on the two halves) of the same pages
const MIXED = `
import sys, os, random, array
random.seed(3)
MB = 1 << 20
keep = []
keep.append(os.urandom(160 * MB))                                   # incompressible (media, ciphertext)
d = {}
for i in range(1200000):                                            # interpreter heap: a dict of tuples
    d["k:%d:%d" % (i, random.randrange(10**9))] = (i, random.random(), "v-%d" % random.randrange(1000))
keep.append(d)
words = [b"GET", b"POST", b"/api/v1/users", b"200", b"404", b"Mozilla/5.0", b"session", b"token", b"ok", b"error", b"cache-hit", b"cache-miss"]
base = b"".join(b"%d %s %s %d %s\\n" % (i, random.choice(words), random.choice(words), random.randrange(10**6), random.choice(words)) for i in range(200000))
text = bytearray()
for k in range(28): text += base[k * 4099:] + base[:k * 4099]        # ~190 MB of log-like text
keep.append(text)
keep.append(array.array("d", (random.random() for _ in range(8 * MB))))   # 64 MB of doubles
keep.append(array.array("q", range(8 * MB)))                              # 64 MB of counters
blk = os.urandom(MB)
keep.append([bytes(bytearray(blk)) for _ in range(64)])                   # 64 MB of identical pages
z = bytearray(64 * MB); z[::4096] = bytes(len(z) // 4096); keep.append(z)  # 64 MB of touched zero pages
open(sys.argv[1], "w").write("ready")
import time
while True:
    time.sleep(1000)
`;

/** CPU busy share of the machine (all processes, both cores) between two /proc/stat reads. */
function cpuTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

/**
 * Run a command; wall seconds, the child's CPU seconds (user+sys, all threads), machine busy %.
 * Each run starts with no dirty page cache (`sync` first): otherwise the previous row's
 * gigabyte of files is still being written back to the disk during the next measurement.
 */
function timed(cmd: string, args: string[]): { secs: number; cpu: number; busy: number; status: number | null; stdout: string; stderr: string } {
  spawnSync('sync');
  const t0 = cpuTicks();
  const t = performance.now();
  const useTime = existsSync('/usr/bin/time');
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-f', 'TSCR_CPU %U %S', cmd, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
    : spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const secs = (performance.now() - t) / 1000;
  const t1 = cpuTicks();
  const m = /TSCR_CPU ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  return { secs, cpu: m ? Number(m[1]) + Number(m[2]) : NaN, busy: 100 * (t1.busy - t0.busy) / Math.max(1, t1.total - t0.total), status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '').replace(/TSCR_CPU.*\n?/, '') };
}

/** Seconds of the dump's pages phase (its JSON gives MiB/s over that phase). */
function pagesSecs(j: any): number { return j.mbps > 0 ? j.bytes / (j.mbps * 1048576) : j.seconds; }

async function dumpRow(label: string, pid: number): Promise<string[][]> {
  const cli = join(ROOT, 'bin', 'tscr.js');
  const rows: string[][] = [];
  const dir = join(tmp, 'dumpdir');
  const arc = join(tmp, 'dump.tscr');
  const fmt = (bytes: number, s: number) => (bytes / MB / s).toFixed(0);
  // plain dump first (its pages files are the input of native lz4 below)
  rmSync(dir, { recursive: true, force: true });
  // run as a user runs it: the installed `tscr` (bin/tscr.js through its #! line, which starts
  // Node without NODE_EXTRA_CA_CERTS; `node bin/tscr.js` would parse that file first)
  const p = timed(cli, ['dump', '-t', String(pid), '-R', '--json', '-D', dir]);
  if (p.status !== 0) throw new Error(`tscr dump failed: ${p.stderr.split('\n')[0]}`);
  const pj = JSON.parse(p.stdout);
  const bytes = pj.bytes as number;
  rows.push([label, 'tscr dump -R -D DIR (plain CRIU images; -R: no fsync)', fmt(bytes, p.secs), fmt(bytes, pagesSecs(pj)), p.cpu.toFixed(2), '100%', p.busy.toFixed(0) + '%']);
  // tscr dump --compress, best of 3 (the machine is shared)
  let best: { secs: number; cpu: number; busy: number; j: any } | null = null;
  for (let rep = 0; rep < 3; rep++) {
    rmSync(arc, { force: true });
    const c = timed(cli, ['dump', '-t', String(pid), '-R', '--json', '--compress', '-D', arc]);
    if (c.status !== 0) throw new Error(`tscr dump --compress failed: ${c.stderr.split('\n')[0]}`);
    const j = JSON.parse(c.stdout);
    if (!best || c.secs < best.secs) best = { secs: c.secs, cpu: c.cpu, busy: c.busy, j };
  }
  const bj = best!.j;
  rows.push([label, `tscr dump -R --compress (archive, ${workersLabel()}), best of 3`, fmt(bytes, best!.secs), fmt(bytes, pagesSecs(bj)), best!.cpu.toFixed(2),
    `${(100 * bj.archive.archiveBytes / bytes).toFixed(1)}%`, best!.busy.toFixed(0) + '%']);
  // native lz4 -1 of the same pages (in the page cache): one process, then two on the two halves
  const files = readdirSync(dir).filter((f) => /^pages-\d+\.img$/.test(f)).map((f) => join(dir, f));
  const all = join(tmp, 'all-pages.img');
  writeFileSync(all, Buffer.concat(files.map((f) => readFileSync(f))));
  const l1 = timed('lz4', ['-1', '-f', '-q', all, join(tmp, 'all.lz4')]);
  const lz4Size = statSync(join(tmp, 'all.lz4')).size;
  rows.push([label, 'native lz4 -1 of the same pages, one core (file to file)', fmt(bytes, l1.secs), '', l1.cpu.toFixed(2), `${(100 * lz4Size / bytes).toFixed(1)}%`, l1.busy.toFixed(0) + '%']);
  const whole = readFileSync(all);
  const half = Math.floor(whole.length / 2 / 4096) * 4096;
  writeFileSync(join(tmp, 'h1.img'), whole.subarray(0, half)); writeFileSync(join(tmp, 'h2.img'), whole.subarray(half));
  spawnSync('sync');
  const t0 = cpuTicks(); const t = performance.now();
  await Promise.all(['h1', 'h2'].map((h) => new Promise<void>((res) => {
    spawn('lz4', ['-1', '-f', '-q', join(tmp, `${h}.img`), join(tmp, `${h}.lz4`)], { stdio: 'ignore' }).on('exit', () => res());
  })));
  const secs2 = (performance.now() - t) / 1000; const t1 = cpuTicks();
  rows.push([label, 'native lz4 -1, two processes (one per core, one half each)', fmt(bytes, secs2), '', '', '', (100 * (t1.busy - t0.busy) / Math.max(1, t1.total - t0.total)).toFixed(0) + '%']);
  for (const f of [all, join(tmp, 'all.lz4'), join(tmp, 'h1.img'), join(tmp, 'h2.img'), join(tmp, 'h1.lz4'), join(tmp, 'h2.lz4'), arc]) rmSync(f, { force: true });
  rmSync(dir, { recursive: true, force: true });
  return rows;
}

{
  const runs = presentRuns(py.pid!);
  const bytes = runs.reduce((a, r) => a + r.pages, 0) * 4096;
  const res: string[][] = [];
  if (existsSync(join(ROOT, 'dist', 'tscr.js'))) {
    res.push(...await dumpRow(`python3 dict (${(bytes / 2 ** 30).toFixed(2)} GiB)`, py.pid!));
    stop(py);
    const mixed = await startTarget('python3', ['-c', MIXED]);
    const mb = presentRuns(mixed.pid!).reduce((a, r) => a + r.pages, 0) * 4096;
    res.push(...await dumpRow(`mixed (${(mb / 2 ** 30).toFixed(2)} GiB)`, mixed.pid!));
    stop(mixed);
  }
  console.log('\n## 4. Dump with compression, ~1 GiB, both cores (MB = 10^6 bytes of present pages; wall = whole command incl. node start, freeze, metadata; with -R neither form is fsynced)');
  table(['process', 'what', 'MB/s wall', 'MB/s pages phase', 'CPU s', 'size', 'machine busy'], res);
  console.log('(target: >= 1000 MB/s wall for the compressed dump; "machine busy" is the share of both cores used by all processes during the run, ours and others\')');
  const { loadavg } = await import('node:os');
  console.log(`(load average after the runs: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} CPUs)`);
}

