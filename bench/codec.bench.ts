// Image codec benchmark: tscr vs Debian's crit (package criu) on the same files, in one run.
//  1. a synthetic 300,000-entry pagemap (4.8 MB): decode to JSON (compact and --pretty), encode back
//  2. start-up: one decode of a small image (pstree), against bare `node -e 0`
// Wall times are the best of N runs (the machine is shared; the minimum is the least noisy).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../lib/paths.ts';
import { encodeImage, decodeFileToJSON, encodeFromJSON } from '../lib/images.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-bench-'));
const TSCR = [process.execPath, join(ROOT, 'bin', 'tscr.js')];
const hasCrit = spawnSync('crit', ['--help'], { stdio: 'ignore' }).status === 0;

function wall(cmd: string[], runs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
    best = Math.min(best, ms);
  }
  return best;
}
const fmt = (ms: number) => `${ms.toFixed(1).padStart(8)} ms`;
const row = (what: string, tscr: number, crit: number | null) =>
  console.log(`${what.padEnd(44)} tscr ${fmt(tscr)}   crit ${crit === null ? '    n/a    ' : fmt(crit)}   ${crit === null ? '' : `crit/tscr = ${(crit / tscr).toFixed(1)}x`}`);

try {
  // the synthetic pagemap: 16-byte entries like a real dump's
  const entries: any[] = [{ pages_id: 1 }];
  let va = 0x400000;
  for (let i = 0; i < 300000; i++) {
    entries.push({ vaddr: va, compat_nr_pages: 0, flags: i % 3 ? 4 : 6, nr_pages: 1 + (i % 7) });
    va += 0x2000 * (1 + (i % 7)) + 0x1000;
  }
  const pm = join(tmp, 'pagemap-1.img');
  writeFileSync(pm, encodeImage({ magic: 'PAGEMAP', entries }));
  const small = join(tmp, 'pstree.img');
  writeFileSync(small, encodeImage({ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] }] }));
  console.log(`pagemap: ${entries.length - 1} entries, ${(statSync(pm).size / 1e6).toFixed(2)} MB; crit: ${hasCrit ? 'Debian crit found' : 'NOT AVAILABLE (apt-get install criu); crit columns are n/a'}`);
  if (hasCrit) console.log('note: Debian crit 3.17 mis-decodes 4.2 pagemaps (nr_pages), but does the same amount of work');

  const out = join(tmp, 'out.json');
  const big = (pretty: boolean) => [
    wall([...TSCR, 'decode', '-i', pm, '-o', out, ...(pretty ? ['--pretty'] : [])], 5),
    hasCrit ? wall(['crit', 'decode', '-i', pm, '-o', out, ...(pretty ? ['--pretty'] : [])], 2) : null,
  ] as const;
  const [t1, c1] = big(false); row('decode 300k pagemap -> JSON (compact)', t1, c1);
  const [t2, c2] = big(true); row('decode 300k pagemap -> JSON (--pretty)', t2, c2);
  const json = join(tmp, 'pm.json');
  spawnSync(TSCR[0], [TSCR[1], 'decode', '-i', pm, '-o', json]);
  const enc = join(tmp, 'pm.img');
  const t3 = wall([...TSCR, 'encode', '-i', json, '-o', enc], 5);
  if (!readFileSync(enc).equals(readFileSync(pm))) throw new Error('encode is not byte-identical');
  const c3 = hasCrit ? wall(['crit', 'encode', '-i', json, '-o', join(tmp, 'pmc.img')], 1) : null;
  row('encode 300k pagemap JSON -> image', t3, c3);

  const t4 = wall([...TSCR, 'decode', '-i', small], 15);
  const c4 = hasCrit ? wall(['crit', 'decode', '-i', small], 5) : null;
  row('start-up: decode one small image', t4, c4);
  const n = wall([process.execPath, '-e', '0'], 15);
  console.log(`${'  (bare `node -e 0` on this machine)'.padEnd(44)}      ${fmt(n)}`);

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
