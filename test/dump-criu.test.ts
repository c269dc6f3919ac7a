// Interop: CRIU 4.x restores tscr's dumps of the fixtures and each program
// passes its self-check. Needs a CRIU >= 4 binary: $TSCR_CRIU, or `criu` on
// PATH if it is new enough (Debian's 3.17 fails on this kernel's vDSO layout).
// Skipped otherwise. (Built here from CRIU v4.2 source: make criu.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, runTscr, treePids, sleep, killTree } from './helpers/fixture.ts';
import { findCriu } from './helpers/criu.ts';

const criu = findCriu();

for (const name of ['loop', 'memory', 'tree', 'threads', 'signals', 'files', 'r-zombie', 'r-seccomp', 'r-seccomp-threads', 'r-seccomp-strict', 'r-creds']) {
  test(`CRIU restores tscr's dump: ${name}`, async () => {
    if (!criu) { console.log('  skip: no CRIU >= 4 here (set TSCR_CRIU)'); return; }
    const fx = await startFixture(name);
    const img = mkdtempSync(join(tmpdir(), `tscr-criu-${name}-`));
    const pids = treePids(fx.pid);
    try {
      const d = await runTscr(['dump', '-t', String(fx.pid), '-D', img]);
      assert.is(d.code, 0, d.stderr);
      // the pids must be free, not just dead: wait until the reaper has collected them
      for (let i = 0; i < 400 && pids.some((p) => existsSync(`/proc/${p}`)); i++) await sleep(25);
      const r = spawnSync(criu, ['restore', '-D', img, '-d', '-v4', '-o', 'restore.log'], { encoding: 'utf8' });
      const log = existsSync(join(img, 'restore.log')) ? readFileSync(join(img, 'restore.log'), 'utf8') : '';
      assert.is(r.status, 0, `criu restore failed:\n${log.split('\n').filter((l) => l.includes('Error')).join('\n')}`);
      assert.is(await fx.check(), 'PASS');
    } finally {
      killTree(fx.pid);
      fx.kill();
      rmSync(img, { recursive: true, force: true });
    }
  });
}

test.run();
