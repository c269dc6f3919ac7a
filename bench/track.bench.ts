// Incremental dump with memory write tracking vs hashing (issue 7), side by side in one run.
// A `track` fixture of TSCR_BENCH_TRACK_MIB (default 1024) MiB of distinct pages is dumped
// with `-R --track-mem --compress`; then, TSCR_BENCH_REPS (default 3) times: it rewrites 5% of
// its pages (every 20th), and the same memory state is dumped twice against the same previous
// checkpoint:
//   tracking: PAGEMAP_SCAN PAGE_IS_WRITTEN -> only written pages are read from the process
//   hashing:  every present page is read, hashed and compared with the previous checkpoint
// (the tracking dump re-arms against itself, so the hashing dump's --prev no longer matches the
// tracker and takes today's path). Both give the same archive content.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, FIXTURES_BIN } from '../lib/paths.ts';

const MIB = Number(process.env.TSCR_BENCH_TRACK_MIB ?? 1024);
const REPS = Number(process.env.TSCR_BENCH_REPS ?? 3);
const NA = MIB * 256;
const tmp = mkdtempSync(join(tmpdir(), 'tscr-bench-track-'));
const stateDir = join(tmp, 'state');
const TSCR = join(ROOT, 'bin', 'tscr.js');
let pid = 0;
process.on('exit', () => { if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } rmSync(tmp, { recursive: true, force: true }); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function dump(args: string[], compress = true): { res: any; wall: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [TSCR, 'dump', '-t', String(pid), '-R', ...(compress ? ['--compress'] : []), ...args, '--json'], { encoding: 'utf8', env: { ...process.env, TSCR_TRACK_STATE_DIR: stateDir } });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`dump failed: ${r.stderr}`);
  return { res: JSON.parse(r.stdout), wall };
}

async function main() {
  const out = join(tmp, 'track.out');
  const steps = Array(REPS + 1).fill('w').join(',');
  const c = spawn(join(FIXTURES_BIN, 'track'), [out, steps, String(NA)], { stdio: 'ignore', detached: true });
  c.unref();
  for (let i = 0; i < 3000 && !existsSync(out + '.ready'); i++) await sleep(20);
  pid = Number(readFileSync(out + '.ready', 'utf8'));
  console.log(`track fixture: ${MIB} MiB of distinct pages, 5% rewritten per round, ${REPS} rounds (load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
  let prev = join(tmp, 'base.tscr');
  const base = dump(['--track-mem', '-D', prev]);
  console.log(`full dump (--track-mem): ${(base.wall / 1000).toFixed(2)} s wall, ${(base.res.bytes / 2 ** 20).toFixed(0)} MiB read, archive ${(statSync(prev).size / 2 ** 20).toFixed(1)} MiB`);
  const rows: string[][] = [];
  const agg = { t: [] as number[], h: [] as number[], tp: [] as number[], hp: [] as number[], tf: [] as number[], hf: [] as number[] };
  for (let k = 1; k <= REPS; k++) {
    process.kill(pid, 'SIGUSR2');
    for (let i = 0; i < 3000; i++) { if (existsSync(out + '.step') && Number(readFileSync(out + '.step', 'utf8')) >= k) break; await sleep(10); }
    const tPath = join(tmp, `t${k}.tscr`), hPath = join(tmp, `h${k}.tscr`);
    const t = dump(['--prev', prev, '-D', tPath]);
    const h = dump(['--prev', prev, '-D', hPath]);
    if (t.res.track?.path !== 'tracking' || h.res.track?.path !== 'hashing') throw new Error(`unexpected paths ${t.res.track?.path} / ${h.res.track?.path}`);
    for (const [name, d, p] of [['tracking', t, tPath], ['hashing', h, hPath]] as const) {
      rows.push([String(k), name, (d.wall / 1000).toFixed(2), String(d.res.phasesMs.pages), String(d.res.frozenMs), (d.res.bytes / 2 ** 20).toFixed(1), String(d.res.archive.parentPages), (statSync(p).size / 2 ** 20).toFixed(2), (statSync(p).size / statSync(join(tmp, 'base.tscr')).size * 100).toFixed(1) + '%']);
    }
    if (k === 1) console.log(`tracking dump, while frozen: written-page scan + split ${t.res.track.procs[0].scanMs} ms, re-arm ${t.res.track.procs[0].armMs} ms`);
    agg.t.push(t.wall); agg.h.push(h.wall); agg.tp.push(t.res.phasesMs.pages); agg.hp.push(h.res.phasesMs.pages); agg.tf.push(t.res.frozenMs); agg.hf.push(h.res.frozenMs);
    rmSync(tPath); // keep the chain short on disk: the next round's --prev is the hashing dump (armed last)
    prev = hPath;
  }
  console.log('| round | path | wall s | page phase ms | frozen ms | MiB read from the process | pages from parent | archive MiB | of full |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`median: tracking ${(med(agg.t) / 1000).toFixed(2)} s wall / ${med(agg.tp)} ms pages / ${med(agg.tf)} ms frozen; hashing ${(med(agg.h) / 1000).toFixed(2)} s / ${med(agg.hp)} ms / ${med(agg.hf)} ms; page phase ${(med(agg.hp) / med(agg.tp)).toFixed(1)}x faster, frozen ${(med(agg.hf) / med(agg.tf)).toFixed(1)}x shorter`);
}
async function dirRound(out: string) {
  // CRIU image directories: a full dump, then (5% rewritten) an incremental one with PE_PARENT pages
  const full = join(tmp, 'full-dir'), inc = join(tmp, 'inc-dir');
  const f = dump(['-D', full], false);
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 3000; i++) { if (Number(readFileSync(out + '.step', 'utf8')) >= REPS + 1) break; await sleep(10); }
  const i = dump(['--prev', full, '-D', inc], false);
  if (i.res.track?.path !== 'tracking') throw new Error(`directory round: ${JSON.stringify(i.res.track)}`);
  const du = (d: string) => Number(spawnSync('du', ['-sb', d], { encoding: 'utf8' }).stdout.split(/\s/)[0]);
  console.log('\nCRIU image directories (no compression; plain `tscr dump -R` vs `--prev` with tracking):');
  console.log('| dump | wall s | page phase ms | frozen ms | MiB read | directory MiB |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, d, dir] of [['full', f, full], ['incremental (tracking)', i, inc]] as const) {
    console.log(`| ${name} | ${(d.wall / 1000).toFixed(2)} | ${d.res.phasesMs.pages} | ${d.res.frozenMs} | ${(d.res.bytes / 2 ** 20).toFixed(1)} | ${(du(dir) / 2 ** 20).toFixed(1)} |`);
  }
}

main().then(() => dirRound(join(tmp, 'track.out'))).catch((e) => { console.error(e); process.exitCode = 1; });
