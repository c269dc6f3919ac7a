// Offline commands against Debian's crit, whole commands as a user runs them:
// median of N interleaved runs (crit, tscr, node -e 0, crit, tscr, ...), so both see
// the same load. Covers issue 2's start-up and 300k-pagemap rows and issue 6's
// "offline commands always faster than crit" on a small (shared CRIU `mem`) and a
// large (10,012 VMAs, made by bench/offline.bench.ts's generator) checkpoint.
//   npm run bench -- startup        (TSCR_BENCH_RUNS=20 by default; TSCR_BENCH_ONLY=pagemap for some rows)
// TSCR_BENCH_BEFORE=/other/tscr/bin/tscr.js adds a column for another build (before/after).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../lib/paths.ts';
import { writeSynthImages } from './synth.ts';

const RUNS = Number(process.env.TSCR_BENCH_RUNS ?? 20);
const SHARED = '/work/shared/criu-images/mem/images';
// run as a user runs it: the installed `tscr` (bin/tscr.js executed through its #! line)
const TSCR = [join(ROOT, 'bin', 'tscr.js')];
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasCrit = spawnSync('crit', ['--help'], { stdio: 'ignore' }).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'tscr-bench-start-'));

function once(cmd: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 30 });
  const ms = performance.now() - t;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
  return ms;
}
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

try {
  const { pm, small } = writeSynthImages(tmp);
  // TSCR_BENCH_ONLY=text runs only the rows whose label contains it (e.g. "pagemap")
  const ONLY = process.env.TSCR_BENCH_ONLY;
  let synth = process.env.TSCR_BENCH_SYNTH ?? (ONLY && !ONLY.includes('10k') ? SHARED : undefined);
  if (!synth) {
    const r = spawnSync(process.execPath, ['--import', join(ROOT, 'scripts/ts-register.mjs'), join(ROOT, 'bench/offline.bench.ts')],
      { env: { ...process.env, TSCR_BENCH_GEN_ONLY: '1', TSCR_BENCH_MB: '16', TMPDIR: tmp }, encoding: 'utf8' });
    const m = /made (\S+) /.exec(r.stdout);
    if (!m) throw new Error('synthetic checkpoint: ' + r.stderr);
    synth = m[1];
  }
  const images = (d: string) => readdirSync(d).filter((f) => f.endsWith('.img') && !f.startsWith('pages-')).map((f) => join(d, f));
  const pyDecodeAll = (d: string) => [PY, '-c', 'import sys\nfrom pycriu import images\nfor f in sys.argv[1:]:\n    images.load(open(f, "rb"))', ...images(d)];
  const BEFORE = process.env.TSCR_BENCH_BEFORE;
  // [label, crit command, tscr arguments, or a whole command line (no before column)]
  const rows: [string, string[] | null, string[], string[]?, string[]?][] = [
    ['decode one small image (pstree)', ['crit', 'decode', '-i', small], ['decode', '-i', small]],
    ['show one core image (crit show = decode --pretty)', ['crit', 'show', join(SHARED, 'core-21077.img')], ['show', '-i', join(SHARED, 'core-21077.img')]],
    ['info of a pagemap', ['crit', 'info', join(SHARED, 'pagemap-21077.img')], ['info', '-i', join(SHARED, 'pagemap-21077.img')]],
    ['decode 300,000-entry pagemap to JSON file', ['crit', 'decode', '-i', pm, '-o', join(tmp, 'c.json')], ['decode', '-i', pm, '-o', join(tmp, 't.json')]],
    // the row above overwrites the file of the previous run (as a user re-running a command
    // does); here each command writes a file that does not exist yet (removed, untimed, before every run)
    ['decode 300,000-entry pagemap to a new JSON file each run', ['crit', 'decode', '-i', pm, '-o', join(tmp, 'cn.json')], ['decode', '-i', pm, '-o', join(tmp, 'tn.json')], undefined,
      [join(tmp, 'cn.json'), join(tmp, 'tn.json')]],
  ];
  for (const [label, d] of [['small', SHARED], ['10k VMAs', synth]] as const) {
    for (const w of ['ps', 'fds', 'mems', 'rss']) rows.push([`${label}: x DIR ${w}`, ['crit', 'x', d, w], ['x', d, w]]);
    rows.push([`${label}: crit x mems vs tscr mem`, ['crit', 'x', d, 'mems'], ['mem', d]]);
    rows.push([`${label}: decode all (pycriu) vs validate --no-page-data`, pyDecodeAll(d), ['validate', '--no-page-data', d]]);
  }
  if (process.env.NODE_EXTRA_CA_CERTS) {
    // Node reads and parses that certificate file at start-up, before any script runs;
    // bin/tscr.js's #! line drops the variable (tscr uses no TLS), `node bin/tscr.js` cannot
    rows.push(['decode one small image, as `node bin/tscr.js` (NODE_EXTRA_CA_CERTS loaded)', ['crit', 'decode', '-i', small], [], [process.execPath, ...TSCR, 'decode', '-i', small]]);
  }
  if (ONLY) rows.splice(0, rows.length, ...rows.filter((r) => r[0].includes(ONLY)));
  const node = ['env', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0'];
  const out: string[] = [];
  const nodeAll: number[] = [];
  for (const [label, c, args, whole, fresh] of rows) {
    const t = whole ?? [...TSCR, ...args];
    const b = BEFORE && !whole ? [BEFORE, ...args] : null;
    const tc: number[] = [], tt: number[] = [], tb: number[] = [];
    once(t); if (b) once(b); if (c && hasCrit) once(c); // warm the page cache and the V8 code cache
    const clean = () => { for (const f of fresh ?? []) rmSync(f, { force: true }); };
    for (let i = 0; i < RUNS; i++) {
      clean(); if (c && hasCrit) tc.push(once(c));
      clean(); if (b) tb.push(once(b));
      clean(); tt.push(once(t));
      nodeAll.push(once(node));
    }
    const mc = tc.length ? median(tc) : NaN, mt = median(tt);
    out.push(`| ${label} | ${Number.isFinite(mc) ? mc.toFixed(0) + ' ms' : 'n/a'} | ${BEFORE ? (tb.length ? median(tb).toFixed(0) + ' ms | ' : ' | ') : ''}${mt.toFixed(0)} ms | ${Number.isFinite(mc) ? (mc / mt).toFixed(2) + 'x' : ''} |`);
    process.stderr.write(out[out.length - 1] + '\n');
  }
  process.stdout.write(`\nmedian of ${RUNS} interleaved runs; load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  const head = BEFORE ? `| same work | crit 3.17 | tscr before | tscr | crit / tscr |\n|---|---|---|---|---|` : `| same work | crit 3.17 | tscr | crit / tscr |\n|---|---|---|---|`;
  process.stdout.write(`\n${head}\n${out.join('\n')}\n`);
  process.stdout.write(`| bare \`node -e 0\` without NODE_EXTRA_CA_CERTS (median over all rows) | |${BEFORE ? ' |' : ''} ${median(nodeAll).toFixed(0)} ms | |\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
