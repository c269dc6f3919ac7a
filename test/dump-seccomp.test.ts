// Seccomp in tscr's dump: the images say what CRIU 4.2 would write (one entry
// per distinct filter, prev links, LOG flag, per-thread mode and newest filter)
// and a dump with -R leaves every filter acting. (Round trips: restore-roundtrip
// and dump-criu run r-seccomp, r-seccomp-threads, r-seccomp-strict.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, runTscr } from './helpers/fixture.ts';
import { readImage } from './helpers/images.ts';

test('filter chains shared between threads, one thread\'s own filter, LOG flag (r-seccomp-threads)', async () => {
  const fx = await startFixture('r-seccomp-threads');
  const dir = mkdtempSync(join(tmpdir(), 'tscr-seccomp-'));
  try {
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R']);
    assert.is(r.code, 0, r.stderr);
    const filters = (await readImage(dir, 'seccomp.img')).entries[0].seccomp_filters;
    assert.is(filters.length, 3, 'A, K and thread 2\'s B, each once');
    assert.is(filters[0].prev, undefined);
    assert.is(filters[1].prev, 0);
    assert.is(filters[1].flags, 2, 'SECCOMP_FILTER_FLAG_LOG on K');
    assert.is(filters[2].prev, 1);
    for (const f of filters) assert.is(Buffer.from(f.filter, 'base64').length, 4 * 8);
    const newest: number[] = [];
    for (const f of readdirSync(dir).filter((n) => /^core-\d+\.img$/.test(n))) {
      const tc = (await readImage(dir, f)).entries[0].thread_core;
      assert.is(tc.seccomp_mode, 'filter');
      assert.is(tc.creds.no_new_privs, 1);
      newest.push(tc.seccomp_filter);
    }
    assert.equal(newest.sort(), [1, 1, 2]);
    assert.is(await fx.check(), 'PASS', 'the filters still act after the dump (and get_robust_list, which the dump injects, did not kill it)');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test('strict mode is recorded per thread (r-seccomp-strict)', async () => {
  const fx = await startFixture('r-seccomp-strict');
  const dir = mkdtempSync(join(tmpdir(), 'tscr-seccomp-'));
  try {
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R']);
    assert.is(r.code, 0, r.stderr);
    assert.equal((await readImage(dir, 'seccomp.img')).entries[0], {});
    const modes: string[] = [];
    for (const f of readdirSync(dir).filter((n) => /^core-\d+\.img$/.test(n))) modes.push((await readImage(dir, f)).entries[0].thread_core.seccomp_mode ?? 'disabled');
    assert.equal(modes.sort(), ['disabled', 'strict']);
    assert.is(await fx.check(), 'PASS');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test.run();
