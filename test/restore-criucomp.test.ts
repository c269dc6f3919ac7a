// tscr restores CRIU checkpoints whose pages are compressed the criu-dev way
// (built here from CRIU 4.2's reference images with `tscr convert --to-criu-compressed`),
// and every program checks itself (PASS) after SIGUSR1. A damaged LZ4 block is refused
// before any process is created.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { tscr, pidExists, killAll, waitGone, startOwnSession, verdict, descendants, prepareSharedCase } from './helpers/restore.ts';
import { pagemapFiles, pagemapLayout, inventoryCompression, isCompressedDir } from '../lib/criucomp.ts';
import { SHARED_IMAGES } from './helpers/shared.ts';

const SHARED = SHARED_IMAGES;
const FXDIR = '/tmp/tscr-fixtures';
const tmp = mkdtempSync(join(tmpdir(), 'tscr-criucomp-r-'));

async function restoreCase(name: string, mode: string, corrupt = false, viaArchive = false) {
  const c0 = await prepareSharedCase(name);
  if (!c0) return;
  const { dir, pstree, pids, out } = c0;
  const images = join(tmp, `${name}-${mode}`);
  const c = tscr(['convert', join(dir, 'images'), images, `--to-criu-compressed=${mode}`]);
  assert.is(c.code, 0, c.stderr);
  try {
    if (corrupt) {
      const l = pagemapLayout(images, pagemapFiles(images)[0]);
      const b = l.blocks.find((x) => x.size > 0 && x.size < x.pages * 4096)!;
      const data = readFileSync(join(images, l.pages));
      data.fill(0xff, b.offset, b.offset + b.size);
      writeFileSync(join(images, l.pages), data);
      const r = tscr(['restore', '-D', images, '-d']);
      assert.is.not(r.code, 0);
      assert.match(r.stderr, /LZ4/);
      for (const p of pids) assert.not.ok(pidExists(p), `pid ${p} must not exist after a refused restore`);
      return;
    }
    let from = images;
    if (viaArchive) {
      from = `${images}.tscr`;
      const a = tscr(['convert', images, from]);
      assert.is(a.code, 0, a.stderr);
    }
    const r = tscr(['restore', '-D', from, '-d', '--json']);
    assert.is(r.code, 0, `restore ${name} failed: ${r.stderr}`);
    assert.is(await verdict(pstree.entries[0].pid, out), 'PASS', name);
  } finally {
    killAll(pids);
  }
}

test('compressed (per page) mem: restore -d, self-check PASS', () => restoreCase('mem', 'page'));
test('compressed (regions) threads: restore -d, self-check PASS', () => restoreCase('threads', 'region'));
test('compressed (per page) tree -> tscr archive: restore -d, self-check PASS', () => restoreCase('tree', 'page', false, true));
test('compressed loop with a damaged LZ4 block: refused, nothing created', () => restoreCase('loop', 'page', true));
test('dump --criu-compress=region of a live program -> restore -> PASS (r-mem)', async () => {
  const fx = await startOwnSession('r-mem', []);
  let pids = descendants(fx.pid);
  try {
    const img = join(fx.dir, 'img');
    mkdirSync(img);
    const d = tscr(['dump', '-t', String(fx.pid), '-D', img, '--criu-compress=region', '--criu-compress-region', '64K', '--json']);
    assert.is(d.code, 0, `dump failed: ${d.stderr}`);
    const res = JSON.parse(d.stdout);
    assert.is(res.criuCompress.mode, 'region');
    assert.ok(res.criuCompress.pagesBytes < res.bytes, `pages ${res.criuCompress.pagesBytes} < raw ${res.bytes}`);
    assert.ok(isCompressedDir(img));
    assert.is(inventoryCompression(img).regionSize, 64 << 10);
    assert.ok(await waitGone(pids, 8000), 'dump killed the tree');
    const r = tscr(['restore', '-D', img, '-d', '--json']);
    assert.is(r.code, 0, `restore failed: ${r.stderr}`);
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  } finally {
    killAll(pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
