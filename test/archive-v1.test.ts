// Archive format versions: tscr writes version 2 (the index's page table by column, page refs
// as differences) and still reads version 1. fixtures/archive-v1/ holds two archives written by
// tscr before version 2 (see its README): a converted CRIU checkpoint, and a page-hashed one (as
// dumps write) with zero and duplicate pages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirToArchive, archiveToDir, ArchiveReader, ArchiveWriter, FORMAT_VERSION, TRAILER_SIZE } from '../lib/archive.ts';
import { TscrError } from '../lib/errors.ts';
import { ROOT } from '../lib/paths.ts';
import { SHARED_IMAGES } from './helpers/shared.ts';

const FX = join(ROOT, 'fixtures', 'archive-v1');
const LOOP = join(SHARED_IMAGES, 'loop', 'images');
const tmp = mkdtempSync(join(tmpdir(), 'tscr-arcv1-'));

function sameDir(a: string, b: string): void {
  const na = readdirSync(a).sort(), nb = readdirSync(b).sort();
  assert.equal(nb, na, `file names of ${b}`);
  for (const n of na) assert.ok(readFileSync(join(a, n)).equals(readFileSync(join(b, n))), `${n} differs`);
}

/** The pages the page-hashed fixture was made from (its generator, kept here to check it). */
function pagedFixturePages(): Buffer {
  const b = Buffer.alloc(40 * 4096);
  for (let i = 0; i < 40; i++) {
    if (i % 7 === 3) continue;
    const k = i % 11 === 5 ? 2 : i;
    for (let j = 0; j < 4096; j += 4) b.writeUInt32LE(((k + 1) * 2654435761 + (j >> 6)) >>> 0, i * 4096 + j);
  }
  return b;
}

/** The index bytes of an archive (unpacked), for size comparisons. */
function indexLength(path: string): number {
  const b = readFileSync(path);
  return Number(b.readBigUInt64LE(b.length - TRAILER_SIZE + 32));
}

test('tscr writes version 2', () => { assert.is(FORMAT_VERSION, 2); });

test('a version 1 archive of a CRIU checkpoint verifies and converts back byte-identical', async () => {
  const r = ArchiveReader.open(join(FX, 'loop-v1.tscr'));
  assert.is(r.version, 1);
  assert.is(r.info().version, 1);
  r.verify();
  r.close();
  const out = join(tmp, 'loop-out');
  archiveToDir(join(FX, 'loop-v1.tscr'), out);
  if (existsSync(LOOP)) sameDir(LOOP, out);
  // and into version 2: the same files, a smaller index
  const v2 = join(tmp, 'loop-v2.tscr');
  await dirToArchive(out, v2);
  const r2 = ArchiveReader.open(v2);
  assert.is(r2.version, 2);
  r2.verify();
  r2.close();
  assert.ok(indexLength(v2) <= indexLength(join(FX, 'loop-v1.tscr')), 'the version 2 index is no larger');
  const back = join(tmp, 'loop-back');
  archiveToDir(v2, back);
  sameDir(out, back);
});

test('a version 1 page-hashed archive (zero and duplicate pages) reads back its pages', () => {
  const out = join(tmp, 'paged-out');
  archiveToDir(join(FX, 'paged-v1.tscr'), out);
  assert.ok(readFileSync(join(out, 'pages-1.img')).equals(pagedFixturePages()), 'pages-1.img');
  assert.is(readFileSync(join(out, 'notes.txt'), 'utf8'), 'tscr archive format version 1 fixture\n');
  const r = ArchiveReader.open(join(FX, 'paged-v1.tscr'));
  assert.ok(Buffer.from(r.readPages('pages-1.img', 5, 3)).equals(pagedFixturePages().subarray(5 * 4096, 8 * 4096)));
  r.verify();
  r.close();
});

test('version 2 writes the same pages, zero and duplicate pages included, with an index by column', async () => {
  const path = join(tmp, 'paged-v2.tscr');
  const w = ArchiveWriter.create(path, { workers: 0, level: -2 });
  const s = w.pages('pages-1.img', 0o600, { pageHashes: true, expect: 40 });
  await s.write(pagedFixturePages()); await s.end();
  await w.addBytes('notes.txt', Buffer.from('tscr archive format version 1 fixture\n'));
  const st = await w.finish();
  assert.ok(st.zeroPages > 0 && st.dupPages > 0);
  const out = join(tmp, 'paged-v2-out');
  archiveToDir(path, out);
  sameDir(join(tmp, 'paged-out'), out);
  // same content, same page table: only the layout differs, so the index has the same length
  assert.is(indexLength(path), indexLength(join(FX, 'paged-v1.tscr')));
});

test('a version 2 archive on a version 1 parent stores only what the parent lacks', async () => {
  const src = join(tmp, 'loop-out');
  const dir = join(tmp, 'child-src');
  mkdirSync(dir, { recursive: true });
  for (const n of readdirSync(src)) writeFileSync(join(dir, n), readFileSync(join(src, n)));
  // one more pages file: its first pages are the parent's, the last one is new
  const pages = readdirSync(src).filter((n) => /^pages-\d+\.img$/.test(n)).map((n) => readFileSync(join(src, n)));
  const extra = Buffer.concat([...pages, Buffer.alloc(4096, 0x5a)]);
  writeFileSync(join(dir, 'pages-99.img'), extra);
  const parent = join(tmp, 'parent-v1.tscr');
  writeFileSync(parent, readFileSync(join(FX, 'loop-v1.tscr')));
  const child = join(tmp, 'child-v2.tscr');
  const st = await dirToArchive(dir, child, { parent });
  assert.ok(st.parentPages > 0, 'pages found in the version 1 parent');
  assert.is(st.storedPages, 1, 'only the new page is stored');
  const r = ArchiveReader.open(child);
  assert.is(r.version, 2);
  r.verify();
  r.close();
  const out = join(tmp, 'child-out');
  archiveToDir(child, out);
  sameDir(dir, out);
});

test('a version newer than this tscr reads is refused with the offset and a hint', () => {
  const b = readFileSync(join(FX, 'paged-v1.tscr'));
  b.writeUInt32LE(FORMAT_VERSION + 1, 8);
  const p = join(tmp, 'future.tscr');
  writeFileSync(p, b);
  try { ArchiveReader.open(p); assert.unreachable('opened'); } catch (e) {
    assert.ok(e instanceof TscrError, String(e));
    assert.is(e.code, 'E_UNSUPPORTED');
    assert.is(e.where.offset, 8);
    assert.match(e.message, /version 3 is not supported/);
    assert.match(String(e.where.hint), /newer tscr/);
  }
  // a header that says 2 over a version 1 index is an inconsistent index, not a misread one
  const c = readFileSync(join(FX, 'paged-v1.tscr'));
  c.writeUInt32LE(2, 8);
  writeFileSync(p, c);
  try { ArchiveReader.open(p); assert.unreachable('opened'); } catch (e) {
    assert.ok(e instanceof TscrError, String(e));
    assert.is(e.code, 'E_CORRUPT');
    assert.match(e.message, /index version/);
  }
  assert.ok(statSync(join(FX, 'paged-v1.tscr')).size > 0);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
