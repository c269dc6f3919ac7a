// tscr's own dumps as archives: dump --compress writes an archive, restore reads
// it (verified first), the program passes its self-check; an incremental dump
// (--prev) of the same program stores only what changed; tscr's own dump
// directory survives dir -> archive -> dir byte-identical; a damaged archive is
// refused before any process is created.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tscr, startOwnSession, verdict, killAll, waitGone, descendants, pidExists } from './helpers/restore.ts';
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

    const d = tscr(['dump', '-t', String(fx.pid), '--compress', '--prev', img, '-D', arc, '--json']);
    assert.is(d.code, 0, `dump --compress failed: ${d.stderr}`);
    const res = JSON.parse(d.stdout);
    assert.ok(res.archive.parentPages > 0, 'pages found in the previous dump');
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

test.run();
