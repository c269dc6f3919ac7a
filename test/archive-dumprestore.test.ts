// tscr's own dumps as archives: dump --compress streams pages into an archive, restore reads
// it (verified first), the program passes its self-check; an incremental dump
// (--prev) of the same program stores only what changed; tscr's own dump
// directory survives dir -> archive -> dir byte-identical; a damaged archive is
// refused before any process is created.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tscr, startOwnSession, verdict, killAll, waitGone, descendants, pidExists, pidLive } from './helpers/restore.ts';
import { dirToArchive, archiveToDir } from '../lib/archive.ts';

test('dump --compress -> restore from the archive -> PASS (r-mem), then convert round trip of a plain dump', async () => {
  const fx = await startOwnSession('r-mem', []);
  let pids = descendants(fx.pid);
  const arc = join(fx.dir, 'ck.tscr');
  try {
    // a plain dump first, left running: tscr's own images survive dir -> archive -> dir
    const img = join(fx.dir, 'img');
    mkdirSync(img);
    const d0 = tscr(['dump', '-t', String(fx.pid), '-D', img, '-R']);
    assert.is(d0.code, 0, d0.stderr);
    await dirToArchive(img, join(fx.dir, 'plain.tscr'));
    archiveToDir(join(fx.dir, 'plain.tscr'), join(fx.dir, 'back'));
    for (const n of readdirSync(img)) assert.ok(readFileSync(join(img, n)).equals(readFileSync(join(fx.dir, 'back', n))), n);

    // a dump that fails after the page copy leaves the target running, and no archive or staging dir
    const f = tscr(['dump', '-t', String(fx.pid), '--compress', '-D', arc], 60000, { TSCR_TEST_FAIL_AFTER: 'pages' });
    assert.is.not(f.code, 0);
    assert.ok(pidLive(fx.pid), 'target still running after a failed dump');
    assert.not.ok(existsSync(arc), 'no partial archive');
    assert.not.ok(readdirSync(fx.dir).some((n) => n.includes('.stage-')), 'no staging directory');

    const d = tscr(['dump', '-t', String(fx.pid), '--compress', '--prev', img, '-D', arc, '--json']);
    assert.is(d.code, 0, `dump --compress failed: ${d.stderr}`);
    const res = JSON.parse(d.stdout);
    assert.ok(res.archive.parentPages > 0, 'pages found in the previous dump');
    assert.is(res.archive.pages * 4096, res.bytes, 'every page went through the archive');
    assert.ok(statSync(arc).size < res.archive.rawBytes / 2, 'the archive is compact');
    assert.not.ok(readdirSync(fx.dir).some((n) => n.includes('.stage-')), 'staging directory removed');
    assert.ok(await waitGone(pids, 8000), `dump left ${pids.filter(pidExists)} behind`);

    // a damaged copy is refused, and no process is created
    const bad = join(fx.dir, 'bad.tscr');
    const b = readFileSync(arc); b[200] ^= 0x20; writeFileSync(bad, b);
    const rb = tscr(['restore', '-D', bad, '-d']);
    assert.is.not(rb.code, 0);
    assert.match(rb.stderr, /damaged|hash/);
    assert.not.ok(pidExists(fx.pid), 'nothing was restored from the damaged archive');

    const r = tscr(['restore', '-D', arc, '-d', '--json']);
    assert.is(r.code, 0, `restore from the archive failed: ${r.stderr}`);
    assert.is(JSON.parse(r.stdout).root, fx.pid);
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  } finally {
    killAll(pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('dump --compress --compress-level 2 (hash chains: smaller archive) -> restore -> PASS; bad levels are usage errors', async () => {
  const fx = await startOwnSession('r-mem', []);
  let pids = descendants(fx.pid);
  const fast = join(fx.dir, 'fast.tscr'), small = join(fx.dir, 'small.tscr');
  try {
    for (const [args, re] of [[['--compress-level', '5', '--compress'], /from -64 to 3/], [['--compress-level', '2'], /applies to --compress/]] as const) {
      const r = tscr(['dump', '-t', String(fx.pid), '-R', '-D', join(fx.dir, 'x.tscr'), ...args]);
      assert.is(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
    const f = tscr(['dump', '-t', String(fx.pid), '-R', '--compress', '-D', fast, '--json']);
    assert.is(f.code, 0, f.stderr);
    const d = tscr(['dump', '-t', String(fx.pid), '--compress', '--compress-level', '2', '-D', small, '--json']);
    assert.is(d.code, 0, d.stderr);
    assert.ok(JSON.parse(d.stdout).archive.archiveBytes < JSON.parse(f.stdout).archive.archiveBytes, 'level 2 writes a smaller archive than the default');
    assert.ok(await waitGone(pids, 8000), `dump left ${pids.filter(pidExists)} behind`);
    const r = tscr(['restore', '-D', small, '-d', '--json']);
    assert.is(r.code, 0, r.stderr);
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  } finally {
    killAll(pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('a big process (96 MiB: the compression workers start before the freeze): failed dumps leave nothing behind, then dump --compress -> restore -> PASS', async () => {
  const fx = await startOwnSession('bigmem', ['96']);
  let pids = descendants(fx.pid);
  const arc = join(fx.dir, 'big.tscr');
  try {
    const noLeftovers = (what: string) => {
      assert.ok(pidLive(fx.pid), `target still running after ${what}`);
      assert.not.ok(existsSync(arc), `no partial archive after ${what}`);
      assert.not.ok(readdirSync(fx.dir).some((n) => n.includes('.stage-')), `no staging directory after ${what}`);
    };
    // fails before the freeze (the workers just started are stopped, the archive removed),
    // after the injection, and after the page copy with the workers busy
    for (const when of ['start', 'inject', 'pages']) {
      const f = tscr(['dump', '-t', String(fx.pid), '--compress', '-D', arc], 60000, { TSCR_TEST_FAIL_AFTER: when });
      assert.is.not(f.code, 0);
      assert.match(f.stderr, /test hook/);
      noLeftovers(`a dump failing after ${when}`);
    }
    const d = tscr(['dump', '-t', String(fx.pid), '--compress', '-D', arc, '--json'], 120000);
    assert.is(d.code, 0, d.stderr);
    const res = JSON.parse(d.stdout);
    assert.ok(res.bytes >= 96 << 20, `pages of the 96 MiB region dumped (${res.bytes})`);
    assert.ok(res.archive.blocks > 100, 'many page blocks');
    assert.ok(await waitGone(pids, 8000), `dump left ${pids.filter(pidExists)} behind`);
    const r = tscr(['restore', '-D', arc, '-d', '--json'], 120000);
    assert.is(r.code, 0, r.stderr);
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out, 30000), 'PASS');
  } finally {
    killAll(pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('shared memory and fds across a tree through an archive (fd-share: memfd, MAP_SHARED, socketpair, eventfd)', async () => {
  const fx = await startOwnSession('fd-share', []);
  let pids = descendants(fx.pid);
  const arc = join(fx.dir, 'share.tscr');
  try {
    const d = tscr(['dump', '-t', String(fx.pid), '--compress', '-D', arc, '--json']);
    assert.is(d.code, 0, `dump --compress failed: ${d.stderr}`);
    assert.ok(await waitGone(pids, 8000), 'dump killed the tree');
    const r = tscr(['restore', '-D', arc, '-d', '--json']);
    assert.is(r.code, 0, `restore from the archive failed: ${r.stderr}`);
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  } finally {
    killAll(pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test.run();
