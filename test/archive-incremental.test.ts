// Incremental archives: given the previous checkpoint, only pages whose content
// is not already there are stored (found by xxh64, confirmed byte by byte).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { dirToArchive, archiveToDir, ArchiveReader, ArchiveWriter } from '../lib/archive.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-arc-inc-'));
const N = 2048; // 8 MiB of pages

function makeDir(name: string, pages: Buffer): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'pages-1.img'), pages);
  writeFileSync(join(d, 'pagemap-1.img'), Buffer.from(`pagemap of ${name}`));
  return d;
}

test('5% of pages changed: the child archive is under 10% of a full one, and rebuilds exactly', async () => {
  const base = Buffer.alloc(N * 4096);
  for (let i = 0; i < N; i++) {
    const r = randomBytes(1024);
    for (let k = 0; k < 4; k++) r.copy(base, i * 4096 + k * 1024); // compressible but distinct pages
  }
  const d1 = makeDir('c1', base);
  const next = Buffer.from(base);
  for (let i = 0; i < N; i += 20) next.writeUInt32LE((0xdeadbeef ^ i) >>> 0, i * 4096 + 8); // 5%
  const d2 = makeDir('c2', next);
  const full1 = join(tmp, 'c1.tscr');
  const s1 = await dirToArchive(d1, full1);
  const full2 = join(tmp, 'c2-full.tscr');
  const s2 = await dirToArchive(d2, full2);
  const inc = join(tmp, 'c2.tscr');
  const si = await dirToArchive(d2, inc, { parent: full1 });
  assert.is(si.parentPages, N - Math.ceil(N / 20));
  assert.is(si.storedPages, Math.ceil(N / 20));
  const ratio = si.archiveBytes / s2.archiveBytes;
  assert.ok(ratio <= 0.10, `incremental is ${(ratio * 100).toFixed(1)}% of full`);
  assert.ok(s1.archiveBytes > 0);
  // rebuild through the parent
  const out = join(tmp, 'c2.out');
  archiveToDir(inc, out);
  assert.ok(readFileSync(join(out, 'pages-1.img')).equals(next));
  const r = ArchiveReader.open(inc);
  assert.ok(Buffer.from(r.readPages('pages-1.img', 19, 3)).equals(next.subarray(19 * 4096, 22 * 4096)));
  r.close();
});

test('chain of three: grandchild pages resolve through two parents', async () => {
  const a = Buffer.alloc(64 * 4096);
  for (let i = 0; i < 64; i++) a.fill(i + 1, i * 4096, i * 4096 + 2000);
  const b = Buffer.from(a); b.fill(0xee, 5 * 4096, 6 * 4096);
  const c = Buffer.from(b); c.fill(0xdd, 7 * 4096, 8 * 4096);
  await dirToArchive(makeDir('g1', a), join(tmp, 'g1.tscr'));
  await dirToArchive(makeDir('g2', b), join(tmp, 'g2.tscr'), { parent: join(tmp, 'g1.tscr') });
  const s3 = await dirToArchive(makeDir('g3', c), join(tmp, 'g3.tscr'), { parent: join(tmp, 'g2.tscr') });
  assert.is(s3.storedPages, 1);
  archiveToDir(join(tmp, 'g3.tscr'), join(tmp, 'g3.out'));
  assert.ok(readFileSync(join(tmp, 'g3.out', 'pages-1.img')).equals(c));
});

test('previous checkpoint given as a CRIU directory', async () => {
  const a = Buffer.alloc(100 * 4096);
  for (let i = 0; i < 100; i++) a.fill(i + 1, i * 4096, i * 4096 + 3000);
  const b = Buffer.from(a); b.fill(0x77, 10 * 4096, 12 * 4096);
  const prevDir = makeDir('d1', a);
  const arc = join(tmp, 'd2.tscr');
  const s = await dirToArchive(makeDir('d2', b), arc, { parent: prevDir });
  assert.is(s.storedPages, 1); // the two changed pages are equal to each other
  assert.is(s.parentPages, 98);
  archiveToDir(arc, join(tmp, 'd2.out'));
  assert.ok(readFileSync(join(tmp, 'd2.out', 'pages-1.img')).equals(b));
  // the directory changes: the child refuses it
  writeFileSync(join(prevDir, 'pages-1.img'), b);
  assert.throws(() => archiveToDir(arc, join(tmp, 'd2.out2')), /is not the one/);
});

test('writer API: runs fed as they are read, abort removes the partial file', async () => {
  const path = join(tmp, 'api.tscr');
  const w = ArchiveWriter.create(path);
  await w.addBytes('inventory.img', Buffer.from('inv'));
  const s = w.pages('pages-1.img');
  for (let i = 0; i < 10; i++) await s.write(Buffer.alloc(3 * 4096, i));
  await s.end();
  const s2 = w.pages('pages-2.img');
  let k = 0;
  // the sink may give room for fewer pages than asked (view.length / 4096)
  while (k < 5) k += await s2.writeWith(2, (view) => { view.fill(0x70, 0, 4096); view.fill(k + 20, 4096, 8192); return Math.min(2, view.length / 4096); });
  await s2.end();
  const st = await w.finish();
  assert.is(st.pages, 36);
  assert.is(st.storedPages, 9 + 1 + 3);
  const w2 = ArchiveWriter.create(join(tmp, 'aborted.tscr'));
  await w2.addBytes('x.img', Buffer.from('x'));
  await w2.abort();
  assert.throws(() => statSync(join(tmp, 'aborted.tscr')));
});

test('a duplicate of a page written long ago is confirmed by reading it back', async () => {
  const path = join(tmp, 'readback.tscr');
  const w = ArchiveWriter.create(path, { workers: 2 });
  const s = w.pages('pages-1.img');
  const first = randomBytes(4096);
  await s.write(first);
  for (let i = 0; i < 80; i++) await s.write(randomBytes(64 * 4096)); // > 64 blocks: out of the writer's cache
  await s.write(first);
  await s.end();
  const st = await w.finish();
  assert.is(st.dupPages, 1);
  const r = ArchiveReader.open(path);
  r.verify();
  assert.ok(Buffer.from(r.readPages('pages-1.img', 81 * 64 - 63, 1)).equals(first));
  r.close();
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
