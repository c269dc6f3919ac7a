// A damaged archive is detected and named (file + offset) before anything is
// written out: flipped bytes in a data block, in the index, in the header; a
// truncated store; a whole-file hash that does not match; a swapped parent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync, readdirSync, truncateSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirToArchive, archiveToDir, ArchiveReader, HEADER_SIZE, TRAILER_SIZE } from '../lib/archive.ts';
import { TscrError } from '../lib/errors.ts';
import { ROOT } from '../lib/paths.ts';

const SHARED = existsSync(join(ROOT, '..', 'shared', 'criu-images')) ? join(ROOT, '..', 'shared', 'criu-images') : '/work/shared/criu-images';
const SRC = join(SHARED, 'tree', 'images');
const tmp = mkdtempSync(join(tmpdir(), 'tscr-arc-bad-'));
const good = join(tmp, 'good.tscr');

function expectError(fn: () => void, code: RegExp, msg: RegExp): TscrError {
  try { fn(); } catch (e) {
    assert.ok(e instanceof TscrError, `not a TscrError: ${e}`);
    assert.match((e as TscrError).code, code);
    assert.match((e as TscrError).message, msg);
    assert.ok((e as TscrError).where.file, 'names the file');
    return e as TscrError;
  }
  assert.unreachable('no error');
  throw new Error();
}

/** Convert back must fail and leave the output directory without any image. */
function mustNotExtract(arc: string, code: RegExp, msg: RegExp): TscrError {
  const out = join(tmp, 'out-' + Math.random().toString(36).slice(2));
  const e = expectError(() => archiveToDir(arc, out), code, msg);
  assert.ok(!existsSync(out) || readdirSync(out).length === 0, 'nothing was written');
  return e;
}

test.before(async () => { await dirToArchive(SRC, good); });

test('good archive verifies', () => {
  const r = ArchiveReader.open(good);
  r.verify();
  r.close();
});

test('flipped byte in a data block: named with the block offset', () => {
  const b = readFileSync(good);
  const bad = join(tmp, 'flip-block.tscr');
  const at = HEADER_SIZE + 32 + 100; // inside the first block's payload
  b[at] ^= 0x40;
  writeFileSync(bad, b);
  const e = mustNotExtract(bad, /E_CORRUPT/, /block \d+ at offset 64 is damaged: block payload hash/);
  assert.is(e.where.file, bad);
  assert.is(e.where.offset, HEADER_SIZE);
});

test('flipped byte in every position of a block header is caught', () => {
  const b0 = readFileSync(good);
  for (let k = 0; k < 32; k++) {
    const b = Buffer.from(b0);
    b[HEADER_SIZE + k] ^= 0x01;
    const bad = join(tmp, `hdr-${k}.tscr`);
    writeFileSync(bad, b);
    mustNotExtract(bad, /E_CORRUPT|E_TRUNCATED/, /damaged|hash|lengths/);
  }
});

test('flipped byte in the archive header: whole-file hash mismatch', () => {
  const b = readFileSync(good);
  b[40] ^= 1; // reserved header byte: only the whole-file hash covers it
  const bad = join(tmp, 'flip-header.tscr');
  writeFileSync(bad, b);
  mustNotExtract(bad, /E_CORRUPT/, /whole-file hash does not match/);
});

test('flipped byte in the index', () => {
  const b = readFileSync(good);
  const indexStart = Number(b.readBigUInt64LE(b.length - TRAILER_SIZE + 8));
  b[indexStart + 40] ^= 0x10;
  const bad = join(tmp, 'flip-index.tscr');
  writeFileSync(bad, b);
  const e = expectError(() => ArchiveReader.open(bad), /E_CORRUPT/, /index block at offset \d+ is damaged/);
  assert.is(e.where.offset, indexStart);
});

test('truncated store: cut anywhere, always named', () => {
  const size = readFileSync(good).length;
  for (const cut of [size - 1, size - TRAILER_SIZE, Math.floor(size / 2), HEADER_SIZE + 10, 30]) {
    const bad = join(tmp, `cut-${cut}.tscr`);
    copyFileSync(good, bad);
    truncateSync(bad, cut);
    const e = mustNotExtract(bad, /E_TRUNCATED|E_BAD_MAGIC|E_CORRUPT/, /truncated|trailer|not a tscr archive/);
    assert.is(e.where.file, bad);
  }
});

test('hash that does not match: trailer whole-file hash rewritten consistently', async () => {
  const b = readFileSync(good);
  const t = b.length - TRAILER_SIZE;
  b.writeBigUInt64LE(b.readBigUInt64LE(t + 24) ^ 1n, t + 24);
  const { xxh64 } = await import('../lib/archive-core.ts');
  b.writeBigUInt64LE(xxh64(b.subarray(t, t + 40)), t + 40);
  const bad = join(tmp, 'whole-hash.tscr');
  writeFileSync(bad, b);
  mustNotExtract(bad, /E_CORRUPT/, /whole-file hash does not match/);
});

test('trailer hash mismatch', () => {
  const b = readFileSync(good);
  b[b.length - 20] ^= 1;
  const bad = join(tmp, 'trailer.tscr');
  writeFileSync(bad, b);
  mustNotExtract(bad, /E_CORRUPT/, /trailer hash does not match/);
});

test('not an archive', () => {
  const bad = join(tmp, 'plain.bin');
  writeFileSync(bad, 'hello world, this is not an archive at all........................................');
  mustNotExtract(bad, /E_BAD_MAGIC/, /not a tscr archive/);
});

test('incremental archive with a replaced parent is refused', async () => {
  const parent = join(tmp, 'p.tscr');
  await dirToArchive(SRC, parent);
  const child = join(tmp, 'c.tscr');
  const s = await dirToArchive(SRC, child, { parent });
  assert.ok(s.parentPages > 0);
  // Same name, other content: a different whole-file hash.
  await dirToArchive(join(SHARED, 'loop', 'images'), parent);
  mustNotExtract(child, /E_CORRUPT/, /parent archive .* is not the one/);
  rmSync(parent);
  mustNotExtract(child, /E_NOT_FOUND/, /parent archive .* is missing/);
});

test('fuzz: any single flipped bit anywhere, and any truncation, is refused with a TscrError', () => {
  const b0 = readFileSync(good);
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let i = 0; i < 400; i++) {
    const b = Buffer.from(b0);
    const at = rnd() % b.length;
    b[at] ^= 1 << (rnd() % 8);
    const bad = join(tmp, 'fuzz.tscr');
    writeFileSync(bad, b);
    try {
      archiveToDir(bad, join(tmp, 'fuzz-out'));
      assert.unreachable(`flip at ${at} was not detected`);
    } catch (e) {
      assert.ok(e instanceof TscrError, `flip at ${at}: ${e}`);
    }
    rmSync(join(tmp, 'fuzz-out'), { recursive: true, force: true });
  }
  for (let cut = 0; cut < b0.length; cut += 97) {
    const bad = join(tmp, 'fuzz-cut.tscr');
    writeFileSync(bad, b0.subarray(0, cut));
    assert.throws(() => archiveToDir(bad, join(tmp, 'fuzz-out')), (e: unknown) => e instanceof TscrError);
  }
});

test('a well-hashed but inconsistent index (crafted archive) is refused with the index offset', async () => {
  const { packBlock, unpackBlock, xxh64, Xxh64Stream } = await import('../lib/archive-core.ts');
  const b0 = readFileSync(good);
  const t = b0.length - TRAILER_SIZE;
  const indexStart = Number(b0.readBigUInt64LE(t + 8));
  const len = 32 + b0.readUInt32LE(indexStart + 12);
  const index = Buffer.from(unpackBlock(b0.subarray(indexStart, indexStart + len), 64 << 20) as Uint8Array);
  // Rebuild the archive around a mutated index, with every hash made consistent again.
  const craft = (mutate: (ix: Buffer) => void): string => {
    const ix = Buffer.from(index);
    mutate(ix);
    const blk = Buffer.from(packBlock(ix, 1));
    const body = b0.subarray(0, indexStart);
    const hs = new Xxh64Stream();
    hs.update(body.subarray(0, HEADER_SIZE));
    for (let pos = HEADER_SIZE; pos < indexStart;) { hs.update(body.subarray(pos, pos + 32)); pos += 32 + body.readUInt32LE(pos + 12); }
    hs.update(blk.subarray(0, 32));
    const tr = Buffer.alloc(TRAILER_SIZE);
    tr.write('TSCREND1', 0, 'latin1');
    tr.writeBigUInt64LE(BigInt(indexStart), 8); tr.writeBigUInt64LE(1n, 16);
    tr.writeBigUInt64LE(hs.digest(), 24); tr.writeBigUInt64LE(BigInt(ix.length), 32);
    hs.free();
    tr.writeBigUInt64LE(xxh64(tr.subarray(0, 40)), 40);
    const path = join(tmp, `crafted-${Math.random().toString(36).slice(2)}.tscr`);
    writeFileSync(path, Buffer.concat([body, blk, tr]));
    return path;
  };
  // sanity: an unchanged index rebuilt this way is accepted
  archiveToDir(craft(() => {}), join(tmp, 'crafted-ok'));
  // the block count of the index says one more block than there is
  const parentLen = index.readUInt32LE(8);
  const nbAt = 12 + parentLen + 8;
  let e = expectError(() => ArchiveReader.open(craft((ix) => ix.writeUInt32LE(ix.readUInt32LE(nbAt) + 1000, nbAt))), /E_CORRUPT/, /index/);
  assert.ok(e.where.offset !== undefined);
  // the first block's offset points into the header
  e = expectError(() => ArchiveReader.open(craft((ix) => ix.writeUInt32LE(8, nbAt + 4))), /E_CORRUPT/, /outside the data area/);
  // the last file's last page ref / chunk length points past the tables
  e = expectError(() => ArchiveReader.open(craft((ix) => ix.writeUInt32LE(0xfffffff0, ix.length - 4))), /E_CORRUPT/, /index is inconsistent/);
  assert.is(e.where.kind, 'archive index');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
