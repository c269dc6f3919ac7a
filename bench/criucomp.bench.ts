// CRIU's own compressed pages (criu-dev --compress / --compress-region), side by side:
// the pages of a real process (python3 holding a dict), compressed the criu-dev way by
// tscr (Wasm LZ4, per page and in regions) against native liblz4 (`lz4 -b1`, same block
// size) and a tscr archive; then decompression (pages read back through the checked reader).
// Env: TSCR_BENCH_CC_PY_ENTRIES (default 1,000,000 ≈ 250 MiB of heap).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, presentRuns, PY_DICT as PY } from './procmem.ts';
import { encodeImage } from '../lib/images.ts';
import { compressPagemap, pagemapLayout, rawPages, PE_PRESENT } from '../lib/criucomp.ts';
import { ArchiveWriter } from '../lib/archive.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-bench-cc-'));
const MB = 1e6;
let kid: ChildProcess | null = null;
process.on('exit', () => { try { kid?.kill('SIGKILL'); } catch { /* */ } rmSync(tmp, { recursive: true, force: true }); });

const entries = Number(process.env.TSCR_BENCH_CC_PY_ENTRIES ?? 1_000_000);
const ready = join(tmp, 'ready');
kid = spawn('python3', ['-c', PY, String(entries), ready], { stdio: 'ignore', detached: true });
for (let i = 0; i < 6000 && !(existsSync(ready) && readFileSync(ready, 'utf8') === 'ready'); i++) await new Promise((r) => setTimeout(r, 50));
const runs = presentRuns(kid.pid!);
const raw = await capture(kid.pid!);
kid.kill('SIGKILL'); kid = null;
const pm = [{ pages_id: 1 }, ...runs.map((r) => ({ vaddr: r.addr, compat_nr_pages: 0, flags: PE_PRESENT, nr_pages: r.pages }))];
writeFileSync(join(tmp, 'raw.img'), raw);
console.log(`# CRIU compressed pages: python3 dict of ${entries} entries, ${(raw.length / MB).toFixed(0)} MB of present pages in ${runs.length} runs (MB = 10^6 bytes, one core)`);
console.log('| what | pages file | ratio | compress MB/s | decompress MB/s |');
console.log('|---|---|---|---|---|');

function best<T>(n: number, fn: () => T): { v: T; s: number } {
  let v!: T, s = Infinity;
  for (let i = 0; i < n; i++) { const t = performance.now(); v = fn(); s = Math.min(s, (performance.now() - t) / 1000); }
  return { v, s };
}

for (const [label, opts] of [['tscr criu-dev per page (--compress)', { mode: 'page' }], ['tscr criu-dev regions 256K', { mode: 'region', regionSize: 256 << 10 }], ['tscr criu-dev regions 4M', { mode: 'region', regionSize: 4 << 20 }]] as const) {
  const c = best(3, () => compressPagemap(pm, raw, opts as any));
  const dir = join(tmp, 'd');
  rmSync(dir, { recursive: true, force: true });
  (await import('node:fs')).mkdirSync(dir);
  writeFileSync(join(dir, 'pagemap-1.img'), encodeImage({ magic: 'PAGEMAP', entries: c.v.entries }));
  writeFileSync(join(dir, 'pages-1.img'), c.v.pages);
  const l = pagemapLayout(dir, 'pagemap-1.img');
  const data = readFileSync(join(dir, 'pages-1.img'));
  const d = best(3, () => rawPages(dir, l, data));
  if (Buffer.compare(d.v, raw) !== 0) throw new Error('decompressed pages differ');
  console.log(`| ${label} | ${(c.v.pages.length / MB).toFixed(1)} MB | ${(100 * c.v.pages.length / raw.length).toFixed(1)}% | ${(raw.length / MB / c.s).toFixed(0)} | ${(raw.length / MB / d.s).toFixed(0)} |`);
}

// native liblz4 at the same block sizes (its own benchmark mode: in memory, best of its runs)
for (const [label, bs] of [['native lz4 -1, 4 KiB blocks', 4096], ['native lz4 -1, 256 KiB blocks', 256 << 10], ['native lz4 -1, 4 MiB blocks', 4 << 20]] as const) {
  const r = spawnSync('lz4', ['-b1', `-B${bs}`, '-i3', join(tmp, 'raw.img')], { encoding: 'utf8' });
  const line = (r.stdout + r.stderr).split(/[\r\n]/).filter((s) => /MB\/s/.test(s)).pop() ?? '';
  const m = /-> *(\d+) *\(([\d.]+)\), *([\d.]+) MB\/s *,? *([\d.]+) MB\/s/.exec(line);
  if (m) console.log(`| ${label} | ${(Number(m[1]) / MB).toFixed(1)} MB | ${(100 / Number(m[2])).toFixed(1)}% | ${m[3]} | ${m[4]} |`);
  else console.log(`| ${label} | (lz4 -b said: ${line.trim().slice(0, 80) || r.status}) | | | |`);
}

// a tscr archive of the same pages (dedup + 256 KiB LZ4 blocks, level 1, no workers)
const arc = join(tmp, 'a.tscr');
const t = performance.now();
const w = ArchiveWriter.create(arc, { workers: 0, level: 1 });
const s = w.pages('pages-1.img');
await s.write(raw); await s.end();
await w.finish();
const secs = (performance.now() - t) / 1000;
console.log(`| tscr archive (dedup, level 1) | ${(statSync(arc).size / MB).toFixed(1)} MB | ${(100 * statSync(arc).size / raw.length).toFixed(1)}% | ${(raw.length / MB / secs).toFixed(0)} | |`);
