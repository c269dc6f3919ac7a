// Interop: CRIU 4.x restores a tscr dump (optional). Needs a CRIU 4.x binary,
// built locally from its source (Debian's 3.17 fails on this kernel): set
// TSCR_CRIU=/path/to/criu. Without one, the test says so and skips.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tscr, startOwnSession, verdict, killAll, waitGone, dumpFreshFixture } from './helpers/restore.ts';
import { findCriu } from './helpers/criu.ts';


for (const name of ['r-counter', 'r-mem', 'r-threads']) {
  test(`CRIU 4.x restores a tscr dump of ${name}`, async () => {
    const criu = findCriu();
    if (!criu) { console.log('  skip: no CRIU 4.x here (set TSCR_CRIU to a locally built one)'); return; }
    const { fx, img } = (await dumpFreshFixture(name))!;
    try {
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

// and the other way: CRIU 4.x dumps our fixtures (richer state than the shared
// reference images), tscr restores them, each program checks itself.
for (const name of ['r-counter', 'r-mem', 'r-threads', 'r-signals', 'r-files', 'r-tree', 'r-shm', 'r-zombie', 'r-daemon', 'r-pipeline', 'r-seccomp', 'r-creds']) {
  test(`tscr restores a CRIU 4.x dump of ${name}`, async () => {
    const criu = findCriu();
    if (!criu) { console.log('  skip: no CRIU 4.x here (set TSCR_CRIU to a locally built one)'); return; }
    const fx = await startOwnSession(name, name === 'r-files' ? ['noghost'] : []);
    const img = join(fx.dir, 'img');
    mkdirSync(img);
    try {
      const d = spawnSync(criu, ['dump', '-t', String(fx.pid), '-D', img, '-o', join(fx.dir, 'criu-dump.log')], { encoding: 'utf8', timeout: 60000 });
      if (d.status !== 0) {
        let log = '';
        try { log = readFileSync(join(fx.dir, 'criu-dump.log'), 'utf8'); } catch { /* none */ }
        console.log(`  skip ${name}: criu dump failed: ${log.split('\n').filter((l) => /Error/.test(l)).slice(0, 3).join(' | ')}`);
        return;
      }
      await waitGone([fx.pid], 8000);
      const r = tscr(['restore', '-D', img, '-d']);
      assert.is(r.code, 0, `tscr restore of CRIU's dump of ${name} failed: ${r.stderr}`);
      assert.is(await verdict(fx.pid, fx.out), 'PASS');
    } finally {
      killAll([fx.pid]);
      rmSync(fx.dir, { recursive: true, force: true });
    }
  });
}

test('tscr restores a CRIU 4.x dump of a stopped process (SIGSTOP): it comes back stopped, every thread', async () => {
  const criu = findCriu();
  if (!criu) { console.log('  skip: no CRIU 4.x here'); return; }
  const fx = await startOwnSession('r-threads');
  const img = join(fx.dir, 'img');
  mkdirSync(img);
  try {
    process.kill(fx.pid, 'SIGSTOP');
    for (let i = 0; i < 100 && !/\) T /.test(readFileSync(`/proc/${fx.pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 10));
    const d = spawnSync(criu, ['dump', '-t', String(fx.pid), '-D', img, '-o', join(fx.dir, 'criu-dump.log')], { encoding: 'utf8', timeout: 60000 });
    if (d.status !== 0) { console.log('  skip: criu dump failed'); return; }
    await waitGone([fx.pid], 8000);
    const r = tscr(['restore', '-D', img, '-d']);
    assert.is(r.code, 0, r.stderr);
    const { readdirSync } = await import('node:fs');
    const states = readdirSync(`/proc/${fx.pid}/task`).map((t) => { const st = readFileSync(`/proc/${fx.pid}/task/${t}/stat`, 'utf8'); return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3); });
    assert.ok(states.length > 1 && states.every((x) => x === 'T'), `thread states ${states.join('')}`);
    process.kill(fx.pid, 'SIGCONT');
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  } finally {
    killAll([fx.pid]);
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test.run();
