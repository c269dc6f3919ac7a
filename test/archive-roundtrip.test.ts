// Every reference CRIU checkpoint in ../shared/criu-images survives
// CRIU dir -> tscr archive -> CRIU dir byte-identical (names, contents, modes),
// through the library (with and without compression workers) and through the CLI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, statSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { dirToArchive, archiveToDir, ArchiveReader } from '../lib/archive.ts';
import { ROOT } from '../lib/paths.ts';
import { SHARED_IMAGES } from './helpers/shared.ts';

const shared = SHARED_IMAGES;
const dirs = readdirSync(shared).filter((d) => existsSync(join(shared, d, 'images'))).map((d) => join(shared, d, 'images'));
const tmp = mkdtempSync(join(tmpdir(), 'tscr-arc-'));

function sameDir(a: string, b: string): void {
  const na = readdirSync(a).sort(), nb = readdirSync(b).sort();
  assert.equal(nb, na, `file names of ${b}`);
  for (const n of na) {
    assert.ok(readFileSync(join(a, n)).equals(readFileSync(join(b, n))), `${n} differs`);
    assert.is(statSync(join(b, n)).mode & 0o777, statSync(join(a, n)).mode & 0o777, `${n} mode`);
  }
}

test('reference images exist', () => { assert.ok(dirs.length >= 7, `found ${dirs.length} image dirs in ${shared}`); });

for (const [i, dir] of dirs.entries()) {
  const name = dir.split('/').at(-2)!;
  test(`round trip ${name}`, async () => {
    const arc = join(tmp, `${name}.tscr`);
    const stats = await dirToArchive(dir, arc, { workers: i % 2 ? 2 : 0 });
    assert.is(stats.files, readdirSync(dir).length);
    const r = ArchiveReader.open(arc);
    r.verify();
    // readPages agrees with the pages file
    for (const f of r.list().filter((f) => f.kind === 'pages')) {
      const whole = readFileSync(join(dir, f.name));
      const n = f.size / 4096;
      if (n > 2) assert.ok(Buffer.from(r.readPages(f.name, 1, n - 2)).equals(whole.subarray(4096, whole.length - 4096)), `readPages ${f.name}`);
    }
    r.close();
    const out = join(tmp, `${name}.out`);
    archiveToDir(arc, out);
    sameDir(dir, out);
  });
}

test('tree: pages shared by parent and child are stored once', async () => {
  const dir = dirs.find((d) => d.includes('/tree/'))!;
  const stats = await dirToArchive(dir, join(tmp, 'tree2.tscr'));
  assert.ok(stats.dupPages > 0, 'expected duplicate pages across the two processes');
  assert.is(stats.storedPages + stats.dupPages + stats.zeroPages, stats.pages);
});

test('zero pages are stored as nothing, identical pages once', async () => {
  const dir = join(tmp, 'synthetic');
  rmSync(dir, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const pages = Buffer.alloc(300 * 4096);
  for (let i = 0; i < 300; i++) if (i % 3 === 1) pages.fill(i % 7 + 1, i * 4096, i * 4096 + 100);
  writeFileSync(join(dir, 'pages-1.img'), pages);
  writeFileSync(join(dir, 'pagemap-1.img'), Buffer.from('not parsed, kept verbatim'));
  const arc = join(tmp, 'synthetic.tscr');
  const s = await dirToArchive(dir, arc);
  assert.is(s.zeroPages, 200);
  assert.is(s.storedPages, 7);
  assert.is(s.dupPages, 93);
  assert.ok(statSync(arc).size < 4096, `archive is ${statSync(arc).size} bytes`);
  const out = join(tmp, 'synthetic.out');
  archiveToDir(arc, out);
  sameDir(dir, out);
});

test('a CRIU-compressed pages image (LZ4 blocks, not whole pages) is kept verbatim: lossless', async () => {
  const { lz4Compress } = await import('../lib/archive-core.ts');
  const dir = join(tmp, 'criu-compressed');
  rmSync(dir, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const parts: Buffer[] = [];
  for (let i = 0; i < 50; i++) parts.push(Buffer.from(lz4Compress(Buffer.alloc(4096, i % 5))));
  writeFileSync(join(dir, 'pages-1.img'), Buffer.concat(parts));
  writeFileSync(join(dir, 'pagemap-1.img'), Buffer.from([0x25, 0x40, 0x08, 0x56, 1, 2, 3, 4, 5]));
  const arc = join(tmp, 'criu-compressed.tscr');
  const s = await dirToArchive(dir, arc);
  assert.is(s.pageFiles, 0);
  archiveToDir(arc, join(tmp, 'criu-compressed.out'));
  sameDir(dir, join(tmp, 'criu-compressed.out'));
});

test('CLI: tscr convert both ways, --json', () => {
  const dir = dirs.find((d) => d.includes('/sockets/'))!;
  const cli = join(ROOT, 'bin', 'tscr.js');
  if (!existsSync(join(ROOT, 'dist', 'tscr.js'))) { console.log('  (dist/ not built: skipped)'); return; }
  const arc = join(tmp, 'cli.tscr'), out = join(tmp, 'cli.out');
  let r = spawnSync(process.execPath, [cli, 'convert', dir, arc, '--json'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.direction, 'dir-to-archive');
  assert.ok(j.archiveBytes < j.rawBytes);
  r = spawnSync(process.execPath, [cli, 'convert', arc, out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  sameDir(dir, out);
  r = spawnSync(process.execPath, [cli, 'convert', dir, arc], { encoding: 'utf8' });
  assert.is(r.status, 2, 'refuses to overwrite');
  assert.match(r.stderr, /hint/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
