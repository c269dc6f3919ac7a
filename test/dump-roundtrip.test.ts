// The dump side's fixtures through the whole cycle: dump (tree killed) ->
// tscr restore -d -> SIGUSR1 -> the program checks itself. Proves the images
// the dump writes are complete enough to bring each program back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, runTscr, treePids, pidAlive, sleep, killTree } from './helpers/fixture.ts';

async function cycle(name: string, args: string[] = []) {
  const fx = await startFixture(name, args);
  const img = mkdtempSync(join(tmpdir(), `tscr-rt-${name}-`));
  const pids = treePids(fx.pid);
  try {
    const d = await runTscr(['dump', '-t', String(fx.pid), '-D', img]);
    assert.is(d.code, 0, d.stderr);
    for (let i = 0; i < 200 && pids.some(pidAlive); i++) await sleep(25);
    assert.not.ok(pids.some(pidAlive), 'the dumped tree is gone');
    // the pids must be free, not just dead: wait until the reaper has collected them
    for (let i = 0; i < 400 && pids.some((p) => existsSync(`/proc/${p}`)); i++) await sleep(25);
    const r = await runTscr(['restore', '-D', img, '-d']);
    assert.is(r.code, 0, r.stderr);
    assert.is(await fx.check(), 'PASS');
  } finally {
    killTree(fx.pid);
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    fx.kill();
    rmSync(img, { recursive: true, force: true });
  }
}

for (const name of ['memory', 'tree', 'threads', 'signals', 'files', 'forker', 'r-zombie']) test(`dump -> restore -> PASS: ${name}`, () => cycle(name));

test.run();
