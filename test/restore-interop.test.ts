// Interop: CRIU 4.x restores a tscr dump (optional). Needs a CRIU 4.x binary,
// built locally from its source (Debian's 3.17 fails on this kernel): set
// TSCR_CRIU=/path/to/criu. Without one, the test says so and skips.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tscr, startOwnSession, verdict, killAll, waitGone } from './helpers/restore.ts';

function findCriu(): string | null {
  for (const c of [process.env.TSCR_CRIU, '/tmp/criu-build/criu/criu', '/usr/local/sbin/criu', '/usr/sbin/criu'].filter(Boolean) as string[]) {
    if (!existsSync(c)) continue;
    const v = spawnSync(c, ['--version'], { encoding: 'utf8' }).stdout ?? '';
    const m = /Version:\s*(\d+)\./.exec(v);
    if (m && Number(m[1]) >= 4) return c;
  }
  return null;
}

for (const name of ['r-counter', 'r-mem', 'r-threads']) {
  test(`CRIU 4.x restores a tscr dump of ${name}`, async () => {
    const criu = findCriu();
    if (!criu) { console.log('  skip: no CRIU 4.x here (set TSCR_CRIU to a locally built one)'); return; }
    const fx = await startOwnSession(name);
    const img = join(fx.dir, 'img');
    mkdirSync(img);
    try {
      const d = tscr(['dump', '-t', String(fx.pid), '-D', img]);
      assert.is(d.code, 0, d.stderr);
      await waitGone([fx.pid], 8000);
      const r = spawnSync(criu, ['restore', '-D', img, '-d', '-v4', '-o', join(fx.dir, 'criu-restore.log')], { encoding: 'utf8', timeout: 60000 });
      let log = '';
      try { log = readFileSync(join(fx.dir, 'criu-restore.log'), 'utf8'); } catch { /* none */ }
      assert.is(r.status, 0, `criu restore failed: ${r.stderr}\n${log.split('\n').filter((l) => /Error|error/.test(l)).slice(0, 8).join('\n')}`);
      assert.is(await verdict(fx.pid, fx.out), 'PASS');
    } finally {
      killAll([fx.pid]);
      rmSync(fx.dir, { recursive: true, force: true });
    }
  });
}

test.run();
