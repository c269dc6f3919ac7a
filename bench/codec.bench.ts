// Image codec benchmark: tscr vs Debian's crit (package criu) on the same files, in one run.
//  1. a synthetic 300,000-entry pagemap (4.8 MB): decode to JSON (compact and --pretty), encode back
//  2. start-up: one decode of a small image (pstree), against bare `node -e 0`
// Wall times are the best of N runs (the machine is shared; the minimum is the least noisy).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../lib/paths.ts';
import { decodeFileToJSON, encodeFromJSON } from '../lib/images.ts';
import { writeSynthImages } from './synth.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-bench-'));
// the installed `tscr`: bin/tscr.js run through its #! line (which drops NODE_EXTRA_CA_CERTS)
const TSCR = [join(ROOT, 'bin', 'tscr.js')];
const hasCrit = spawnSync('crit', ['--help'], { stdio: 'ignore' }).status === 0;

const TIME = ['/usr/bin/time', '-f', '@@cpu %U %S'];
const hasTime = spawnSync(TIME[0], [...TIME.slice(1), 'true'], { stdio: 'ignore' }).status === 0;

interface M { wall: number; cpu: number }
/** One run: wall ms, and CPU ms (user+sys of the child, via /usr/bin/time when present). */
function once(cmd: string[]): M {
  const argv = hasTime ? [...TIME, ...cmd] : cmd;
  const t = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = performance.now() - t;
  const err = r.stderr.toString();
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${err}`);
  const m = /@@cpu ([\d.]+) ([\d.]+)/.exec(err);
  return { wall, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN };
}
/** Interleaved runs of several commands (fair on a shared, noisy machine); best of each. */
function race(cmds: (string[] | null)[], runs: number): (M | null)[] {
  const best: (M | null)[] = cmds.map((c) => (c ? { wall: Infinity, cpu: Infinity } : null));
  for (let i = 0; i < runs; i++) {
    cmds.forEach((c, k) => {
      if (!c) return;
      const m = once(c);
      best[k]!.wall = Math.min(best[k]!.wall, m.wall);
      best[k]!.cpu = Math.min(best[k]!.cpu, m.cpu);
    });
  }
  return best;
}
const fmt = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(0).padStart(6)} ms` : '    n/a  ');
function row(what: string, t: M, c: M | null) {
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(1)}x` : 'n/a');
  console.log(`${what.padEnd(40)} tscr ${fmt(t.wall)} (cpu ${fmt(t.cpu)})   crit ${c ? `${fmt(c.wall)} (cpu ${fmt(c.cpu)})` : '   n/a'}` +
    (c ? `   crit/tscr: wall ${ratio(c.wall, t.wall)}, cpu ${ratio(c.cpu, t.cpu)}` : ''));
}

try {
  const { pm, small } = writeSynthImages(tmp);
  console.log(`pagemap: 300000 entries, ${(statSync(pm).size / 1e6).toFixed(2)} MB; crit: ${hasCrit ? 'Debian crit found' : 'NOT AVAILABLE (apt-get install criu); crit columns are n/a'}`);
  if (hasCrit) console.log('note: Debian crit 3.17 mis-decodes 4.2 pagemaps (nr_pages), but does the same amount of work');

  const out = join(tmp, 'out.json');
  const outc = join(tmp, 'outc.json');
  const crit = (args: string[]) => (hasCrit ? ['crit', ...args] : null);
  let [t, c] = race([[...TSCR, 'decode', '-i', pm, '-o', out], crit(['decode', '-i', pm, '-o', outc])], 3);
  row('decode 300k pagemap -> JSON (compact)', t!, c);
  [t, c] = race([[...TSCR, 'decode', '-i', pm, '-o', out, '--pretty'], crit(['decode', '-i', pm, '-o', outc, '--pretty'])], 2);
  row('decode 300k pagemap -> JSON (--pretty)', t!, c);
  const json = join(tmp, 'pm.json');
  spawnSync(TSCR[0], ['decode', '-i', pm, '-o', json]);
  const enc = join(tmp, 'pm.img');
  [t, c] = race([[...TSCR, 'encode', '-i', json, '-o', enc], crit(['encode', '-i', json, '-o', join(tmp, 'pmc.img')])], 2);
  if (!readFileSync(enc).equals(readFileSync(pm))) throw new Error('encode is not byte-identical');
  row('encode 300k pagemap JSON -> image', t!, c);
  const [ts, cs, n] = race([[...TSCR, 'decode', '-i', small], crit(['decode', '-i', small]), ['env', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0']], 15);
  row('start-up: decode one small image', ts!, cs);
  console.log(`${'  bare `node -e 0`, same runs'.padEnd(40)}      ${fmt(n!.wall)} (cpu ${fmt(n!.cpu)})`);
  if (!hasTime) console.log('(no /usr/bin/time: CPU columns are n/a)');

  // in-process library speed (no process start-up), warm
  let bytes = 0;
  decodeFileToJSON(pm, (s) => { bytes += s.length; });
  let best = Infinity;
  for (let i = 0; i < 5; i++) { const t = performance.now(); decodeFileToJSON(pm, () => {}); best = Math.min(best, performance.now() - t); }
  console.log(`library decodeFileToJSON, warm: ${best.toFixed(1)} ms for ${(bytes / 1e6).toFixed(1)} MB of JSON (${(bytes / 1e6 / (best / 1000)).toFixed(0)} MB/s)`);
  const text = readFileSync(json);
  best = Infinity;
  for (let i = 0; i < 5; i++) { const t = performance.now(); encodeFromJSON(text); best = Math.min(best, performance.now() - t); }
  console.log(`library encodeFromJSON, warm: ${best.toFixed(1)} ms`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
