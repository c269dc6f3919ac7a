// The offline toolkit on real tscr dumps: a fixture is dumped (tscr dump -R,
// as a subprocess), changes three known pages, and is dumped again. Both dumps
// validate clean; diff reports exactly those three pages in the fixture's
// mapping; mem finds the fixture's marker at its address.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES_BIN, ROOT } from '../lib/paths.ts';
import { waitFile } from './helpers/fixture.ts';
import { cleanup, tscr } from './helpers/offline.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-offdump-'));
let pid = 0;
test.after(() => { if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } cleanup(tmp); });

function dump(dir: string) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'tscr.js'), 'dump', '-t', String(pid), '-D', dir, '-R'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, `tscr dump: ${r.stderr}`);
}

test('dump before and after a known change; validate, diff, mem', async () => {
  const bin = join(FIXTURES_BIN, 'offpages');
  assert.ok(existsSync(bin), 'fixture offpages is built (node scripts/build.mjs fixtures)');
  const out = join(tmp, 'o');
  // its own session (setsid), so the dump needs no --shell-job
  const child = spawn(bin, [out], { stdio: 'ignore', detached: true, cwd: tmp });
  child.on('error', () => {});
  child.unref();
  pid = Number((await waitFile(out + '.ready')).trim());
  const base = BigInt(readFileSync(out + '.addr', 'utf8').trim());
  const A = join(tmp, 'A'), B = join(tmp, 'B');
  dump(A);
  process.kill(pid, 'SIGUSR2');
  await waitFile(out + '.changed');
  dump(B);
  process.kill(pid, 'SIGUSR1');
  assert.is((await waitFile(out)).trim(), 'PASS', 'the fixture survived both dumps intact');
  pid = 0;

  for (const d of [A, B]) {
    const v = await tscr('validate', d);
    assert.is(v.rc, 0, v.out);
  }
  const r = await tscr('diff', A, B, '--json');
  assert.is(r.rc, 1);
  const p = JSON.parse(r.out).processes[0];
  const region = p.vmas.find((v: any) => BigInt(v.start) === base);
  assert.ok(region, `the fixture mapping ${base.toString(16)} is reported`);
  assert.is(region.pagesChanged, 3);
  assert.is(region.pagesAdded, 0);
  assert.is(region.pagesRemoved, 0);
  const inRegion = p.changedPages.filter((c: any) => BigInt(c.addr) >= base && BigInt(c.addr) < base + 64n * 4096n);
  assert.equal(inRegion.map((c: any) => BigInt(c.addr) - base).sort((a: bigint, b: bigint) => (a < b ? -1 : 1)), [3n * 4096n, 17n * 4096n, 40n * 4096n]);
  assert.ok(inRegion.every((c: any) => c.change === 'changed'));
  // everything else that changed is what a running C program touches by itself:
  // its stack, its heap (stdio buffers) and its own writable data/bss
  for (const v of p.vmas) {
    if (BigInt(v.start) === base) continue;
    assert.ok(v.status === 'same' && (v.name === '[stack]' || v.name === '[heap]' || (v.perms.startsWith('rw') && BigInt(v.start) < 0x1000000n)),
      `unexpected change outside the fixture mapping: ${JSON.stringify(v)}`);
  }
  assert.equal(p.threadsAdded, []); assert.equal(p.fdsAdded, []); assert.equal(p.fdsRemoved, []);
  const m = JSON.parse((await tscr('mem', B, '--search', 'TSCR-MARKER-42', '--json')).out);
  assert.ok(m.hits.some((h: any) => BigInt(h.addr) === base + 5n * 4096n + 100n), JSON.stringify(m.hits));
});

test.run();
