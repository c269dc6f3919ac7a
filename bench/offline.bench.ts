// Offline toolkit throughput: validate and diff on page data (target >= 1 GB/s),
// and side by side with Debian's crit (pycriu 3.17) on the same work.
//   npm run bench -- offline          (TSCR_BENCH_MB=256 by default; page data per checkpoint)
// A synthetic checkpoint is made from the shared `mem` checkpoint with the codec:
// one large anonymous VMA whose pages are present in runs of 16 (so the pagemap
// has many entries), plus 10,000 one-page VMAs; B is A with every 100th page changed.
import { spawnSync } from 'node:child_process';
import { rmSync, cpSync, mkdtempSync, readFileSync, writeFileSync, readdirSync, chmodSync, openSync, writeSync, closeSync, existsSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, encodeImage } from '../lib/images.ts';
import { openCheckpoint } from '../lib/offline/checkpoint.ts';
import { validateCheckpoint } from '../lib/offline/validate.ts';
import { diffCheckpoints } from '../lib/offline/diff.ts';
import { search } from '../lib/offline/mem.ts';
import { ROOT } from '../lib/paths.ts';
import { core, allocBytes, release } from '../core-as/host.ts';
import { loadavg } from 'node:os';

const MB = Number(process.env.TSCR_BENCH_MB ?? 256);
const SHARED = '/work/shared/criu-images/mem/images';
const tmp = mkdtempSync(join(tmpdir(), 'tscr-bench-off-'));
const TSCR = join(ROOT, 'bin', 'tscr.js');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function best(n: number, fn: () => void): number {
  let b = Infinity;
  for (let i = 0; i < n; i++) { const t0 = performance.now(); fn(); b = Math.min(b, performance.now() - t0); }
  return b / 1000;
}
function run(cmd: string, args: string[]): () => void {
  return () => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
}

function make(dir: string, pagesData: (off: number, buf: Buffer) => void) {
  cpSync(SHARED, dir, { recursive: true });
  chmodSync(dir, 0o755);
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
  const pid = readdirSync(dir).find((f) => /^mm-\d+\.img$/.test(f))!.match(/\d+/)![0];
  const mm = decodeImage(readFileSync(join(dir, `mm-${pid}.img`)));
  const pm = decodeImage(readFileSync(join(dir, `pagemap-${pid}.img`)));
  const vmas = mm.entries[0].vmas;
  const bigIdx = vmas.findIndex((v: any) => BigInt(v.end) - BigInt(v.start) === 8n << 20n);
  const big = vmas[bigIdx];
  const totalPages = (MB << 20) / 4096;
  const runLen = 16;
  const span = BigInt(totalPages * 2 * 4096);
  const newStart = BigInt(big.end) - span;
  big.start = '0x' + newStart.toString(16);
  // small VMAs in an empty region below the big one
  const small: any[] = [];
  const smallBase = 0x100000000n;
  for (let i = 0; i < 10000; i++) {
    const s = smallBase + BigInt(i * 2 * 4096);
    small.push({ ...vmas[bigIdx], start: '0x' + s.toString(16), end: '0x' + (s + 4096n).toString(16) });
  }
  const before = vmas.slice(0, bigIdx).filter((v: any) => BigInt(v.end) <= smallBase);
  const after = vmas.slice(0, bigIdx).filter((v: any) => BigInt(v.start) >= smallBase);
  mm.entries[0].vmas = [...before, ...small, ...after, ...vmas.slice(bigIdx)];
  // pagemap: keep entries outside the big VMA; the file pages of those come first in order
  const head = pm.entries[0];
  const ents = pm.entries.slice(1);
  const oldBigStart = BigInt(big.end) - (8n << 20n);
  const keep = ents.filter((e: any) => BigInt(e.vaddr) < oldBigStart || BigInt(e.vaddr) >= BigInt(big.end));
  const lowKeep = keep.filter((e: any) => BigInt(e.vaddr) < smallBase);
  const highKeep = keep.filter((e: any) => BigInt(e.vaddr) >= smallBase);
  const smallEnts = small.map((v) => ({ vaddr: v.start, compat_nr_pages: 0, flags: 'PE_PRESENT', nr_pages: 1 }));
  const bigEnts: any[] = [];
  for (let p = 0; p < totalPages; p += runLen) {
    bigEnts.push({ vaddr: '0x' + (newStart + BigInt(p * 2 * 4096)).toString(16), compat_nr_pages: 0, flags: 'PE_PRESENT', nr_pages: runLen });
  }
  const highBefore = highKeep.filter((e: any) => BigInt(e.vaddr) < newStart);
  const highAfter = highKeep.filter((e: any) => BigInt(e.vaddr) >= newStart);
  pm.entries = [head, ...lowKeep, ...smallEnts, ...highBefore, ...bigEnts, ...highAfter];
  writeFileSync(join(dir, `mm-${pid}.img`), encodeImage(mm));
  writeFileSync(join(dir, `pagemap-${pid}.img`), encodeImage(pm));
  // pages file in pagemap order: kept low entries' pages come from the original file
  const orig = readFileSync(join(SHARED, 'pages-1.img'));
  let origOff = 0;
  const origOffOf = new Map<string, number>();
  for (const e of ents) { origOffOf.set(e.vaddr, origOff); origOff += e.nr_pages * 4096; }
  const fresh = new Set<any>(bigEnts);
  const fd = openSync(join(dir, 'pages-1.img'), 'w');
  let off = 0;
  const chunk = Buffer.alloc(16 << 20);
  for (const e of pm.entries.slice(1)) {
    const n = e.nr_pages * 4096;
    if (origOffOf.has(e.vaddr) && !fresh.has(e)) {
      writeSync(fd, orig.subarray(origOffOf.get(e.vaddr)!, origOffOf.get(e.vaddr)! + n));
    } else {
      const b = chunk.subarray(0, n);
      pagesData(off, b);
      writeSync(fd, b);
    }
    off += n;
  }
  closeSync(fd);
}

// deterministic page contents: random per checkpoint seed region, B changes every 100th page
const base = Buffer.alloc(64 << 20);
randomFillSync(base);
const fillA = (off: number, b: Buffer) => { for (let i = 0; i < b.length; i += 4096) base.copy(b, i, (off + i) % base.length, (off + i) % base.length + 4096); };
const fillB = (off: number, b: Buffer) => { fillA(off, b); for (let i = 0; i < b.length; i += 4096) if (((off + i) / 4096) % 100 === 7) b[i + 9] ^= 0xff; };

const A = join(tmp, 'A'), B = join(tmp, 'B');
const tGen = performance.now();
make(A, fillA);
make(B, fillB);
if (process.env.TSCR_BENCH_GEN_ONLY) { process.stdout.write(`made ${A} ${B}\n`); process.exit(0); }
process.stdout.write(`synthetic checkpoints: ${MB} MiB of pages each, 10,012 VMAs, ${(MB << 20) / 4096 / 16 + 10000} pagemap entries (made in ${((performance.now() - tGen) / 1000).toFixed(1)} s)\n`);

const rows: [string, string, string][] = [];
const gbs = (bytes: number, s: number) => `${(bytes / s / 1e9).toFixed(2)} GB/s`;

// in-process: the work itself (Wasm core + TS), files in the page cache
let vbytes = 0;
const tv = best(3, () => { const r = validateCheckpoint(openCheckpoint(A)); vbytes = r.pageBytes; if (!r.clean) throw new Error('A not clean: ' + JSON.stringify(r.findings.slice(0, 3))); });
rows.push(['validate A (in-process)', `${tv.toFixed(3)} s`, gbs(vbytes, tv)]);
let dbytes = 0, changed = 0;
const td = best(3, () => { const r = diffCheckpoints(openCheckpoint(A), openCheckpoint(B)); dbytes = r.pageBytes; changed = r.processes[0].pages.changed; });
rows.push([`diff A B (in-process; ${changed} pages changed)`, `${td.toFixed(3)} s`, gbs(dbytes, td)]);
const ts = best(3, () => { const cp = openCheckpoint(A); search(cp, cp.procs()[0], { kind: 'string', bytes: Buffer.from('no such string here') }); });
rows.push(['mem --search (in-process)', `${ts.toFixed(3)} s`, gbs(vbytes, ts)]);

// the Wasm core alone, data already in memory: hashing and matching
{
  const ex = core();
  const n = 4096; // 16 MiB
  const inPtr = allocBytes(n * 4096), outPtr = allocBytes(n * 8), zPtr = allocBytes(n);
  new Uint8Array(ex.memory.buffer, inPtr, n * 4096).set(base.subarray(0, n * 4096));
  const th = best(5, () => { for (let k = 0; k < 8; k++) ex.xxh_pages(inPtr, 0, n, outPtr, zPtr); });
  rows.push(['core only: xxh_pages, 128 MiB in Wasm memory', `${th.toFixed(3)} s`, gbs(8 * n * 4096, th)]);
  const tab = allocBytes(16 * n), tab2 = allocBytes(16 * n), o = allocBytes(32 * n);
  const A64 = new BigUint64Array(ex.memory.buffer, tab, 2 * n), B64 = new BigUint64Array(ex.memory.buffer, tab2, 2 * n);
  for (let i = 0; i < n; i++) { A64[2 * i] = BigInt(i * 4096); B64[2 * i] = BigInt(i * 4096); A64[2 * i + 1] = BigInt(i); B64[2 * i + 1] = BigInt(i % 100 ? i : 0); }
  const tm = best(5, () => { for (let k = 0; k < 8; k++) ex.diff_match(tab, n, tab2, n, o); });
  rows.push(['core only: diff_match, 2 x 32k page hashes, x8', `${(tm * 1000).toFixed(2)} ms`, `${(8 * 2 * n / tm / 1e6).toFixed(0)} M pages/s`]);
  for (const p of [inPtr, outPtr, zPtr, tab, tab2, o]) release(p);
}

// end to end, as a user runs them
const tvc = best(3, run(TSCR, ['validate', A]));
rows.push(['tscr validate A (CLI)', `${tvc.toFixed(3)} s`, gbs(vbytes, tvc)]);
const tdc = best(3, run(TSCR, ['diff', A, B]));
rows.push(['tscr diff A B (CLI)', `${tdc.toFixed(3)} s`, gbs(dbytes, tdc)]);
const tdd = best(3, run('dd', [`if=${join(A, 'pages-1.img')}`, 'of=/dev/null', 'bs=16M']));
rows.push(['reference: dd pages-1.img (read only, page cache)', `${tdd.toFixed(3)} s`, gbs(vbytes, tdd)]);
const tsum = best(3, run('sha1sum', [join(A, 'pages-1.img')]));
rows.push(['reference: sha1sum pages-1.img', `${tsum.toFixed(3)} s`, gbs(vbytes, tsum)]);
if (spawnSync('lz4', ['--version']).status === 0) {
  const tlz = best(3, run('sh', ['-c', `lz4 -1 -c ${join(A, 'pages-1.img')} > /dev/null`]));
  rows.push(['reference: lz4 -1 pages-1.img', `${tlz.toFixed(3)} s`, gbs(vbytes, tlz)]);
}

// side by side with crit on the same work: interleaved runs (crit, tscr, crit, tscr...),
// best of each, with bare `node -e 0` in the same runs (Node's own start-up, which no
// tscr command can go below)
const hasCrit = spawnSync('crit', ['--help'], { stdio: 'ignore' }).status === 0;
const cmp: [string, number, number][] = [];
function pair(n: number, a: () => void, b: () => void): [number, number] {
  let ba = Infinity, bb = Infinity;
  for (let i = 0; i < n; i++) {
    let t0 = performance.now(); a(); ba = Math.min(ba, performance.now() - t0);
    t0 = performance.now(); b(); bb = Math.min(bb, performance.now() - t0);
  }
  return [ba / 1000, bb / 1000];
}
let bareNode = Infinity;
const vsCrit = (label: string, n: number, crit: () => void, tscr: () => void) => {
  const [c, t] = pair(n, crit, tscr);
  bareNode = Math.min(bareNode, best(1, run('env', ['-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0'])));
  cmp.push([label, c, t]);
};
if (hasCrit) {
  const images = (d: string) => readdirSync(d).filter((f) => f.endsWith('.img') && !f.startsWith('pages-')).map((f) => join(d, f));
  const pyDecodeAll = (d: string) => run(PY, ['-c', 'import sys\nfrom pycriu import images\nfor f in sys.argv[1:]:\n    images.load(open(f, "rb"))', ...images(d)]);
  vsCrit('startup only: crit --help vs tscr version', 7, run('crit', ['--help']), run(TSCR, ['version']));
  for (const [label, d] of [['shared mem checkpoint', SHARED], ['synthetic checkpoint', A]] as const) {
    const n = label.startsWith('shared') ? 7 : 3;
    vsCrit(`decode every image (${label}): crit (one python process) vs tscr validate --no-page-data (decode + all checks)`, n, pyDecodeAll(d), run(TSCR, ['validate', '--no-page-data', d]));
    vsCrit(`same, tscr validate also reading and hashing every page`, n, pyDecodeAll(d), run(TSCR, ['validate', d]));
    vsCrit(`memory map (${label}): crit x DIR mems vs tscr mem DIR`, n, run('crit', ['x', d, 'mems']), run(TSCR, ['mem', d]));
    for (const w of ['ps', 'fds', 'mems', 'rss']) {
      vsCrit(`crit x DIR ${w} vs tscr x DIR ${w} (${label})`, n, run('crit', ['x', d, w]), run(TSCR, ['x', d, w]));
    }
  }
}

process.stdout.write(`\nload average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (2 cores)\n`);
process.stdout.write(`\n| work | time | page data rate |\n|---|---|---|\n`);
for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
if (cmp.length) {
  process.stdout.write(`\n| same work | crit 3.17 | tscr | tscr faster by |\n|---|---|---|---|\n`);
  for (const [l, c, t] of cmp) process.stdout.write(`| ${l} | ${c.toFixed(3)} s | ${t.toFixed(3)} s | ${(c / t).toFixed(1)}x |\n`);
  process.stdout.write(`| bare \`node -e 0\` (best, run between the rows above) | | ${bareNode.toFixed(3)} s | |\n`);
} else process.stdout.write('\n(crit not installed: apt-get install criu for the side-by-side table)\n');
if (process.env.TSCR_BENCH_KEEP) process.stdout.write(`kept ${tmp}\n`);
else rmSync(tmp, { recursive: true, force: true });
