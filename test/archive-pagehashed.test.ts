// Page-hashed blocks (docs/archive.md): a page block's raw hash is XXH64 over its pages'
// XXH64s, which the page writer has already computed for deduplication. The reader
// recomputes every page's hash from the decoded bytes, so a block whose bytes do not
// match its page hashes is refused like any other damaged block.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packBlock, unpackBlock, hashPages, xxh64, UNPACK_ERRORS } from '../lib/archive-core.ts';
import { dirToArchive, archiveToDir, ArchiveReader, HEADER_SIZE } from '../lib/archive.ts';
import { SHARED_IMAGES } from './helpers/shared.ts';

const PAGE = 4096;
const ERR_LENGTH = -3, ERR_PAYLOAD = -4, ERR_RAW = -6;

function pages(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n * PAGE);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < b.length; i++) {
    // half text-like (compressible), half noise
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b[i] = (i >> 11) & 1 ? x & 0xff : 97 + (i % 23);
  }
  return b;
}

/** Rewrite a block's payload hash after editing its payload (a forger who knows the format). */
function rehashPayload(blk: Uint8Array): void {
  const dv = new DataView(blk.buffer, blk.byteOffset, blk.byteLength);
  dv.setBigUint64(16, xxh64(blk.subarray(32)), true);
}

const cases: [string, number, number][] = [
  // label, pages, level
  ['1 page, stored', 1, 0],
  ['64 pages, stored', 64, 0],
  ['7 pages, LZ4', 7, 1],
  ['64 pages, LZ4 fast -2', 64, -2],
  ['64 pages, LZ4 level 2', 64, 2],
];
for (const [label, n, level] of cases) {
  test(`page-hashed block round trip: ${label}`, () => {
    const raw = pages(n, n * 31 + level + 7);
    const { hashes } = hashPages(raw);
    const blk = packBlock(raw, level, hashes);
    assert.is(blk[5], 1, 'flag byte: page-hashed');
    assert.is(new DataView(blk.buffer, blk.byteOffset).getBigUint64(24, true), xxh64(new Uint8Array(hashes.buffer)), 'raw hash = xxh64 of the page hashes');
    const back = unpackBlock(blk, raw.length);
    assert.ok(back instanceof Uint8Array, `unpacked: ${JSON.stringify(back)}`);
    assert.equal(Buffer.compare(Buffer.from(back as Uint8Array), Buffer.from(raw)), 0);
    // the plain block of the same bytes differs only in the flag and the raw hash
    const plain = packBlock(raw, level);
    assert.is(plain[5], 0);
    assert.equal(Buffer.compare(Buffer.from(plain.subarray(32)), Buffer.from(blk.subarray(32))), 0);
  });
}

test('page-hashed block: a page that does not match its hash is refused (decompressed block hash)', () => {
  const raw = pages(4, 99);
  const { hashes } = hashPages(raw);
  const blk = packBlock(raw, 0, hashes);
  blk[32 + 2 * PAGE + 17] ^= 1; // page 2 of a stored block, payload hash made consistent
  rehashPayload(blk);
  const r = unpackBlock(blk, raw.length);
  assert.not.ok(r instanceof Uint8Array);
  assert.is((r as { code: number }).code, ERR_RAW, UNPACK_ERRORS[ERR_RAW]);
  // and a writer that gave a wrong page hash made a block no reader accepts
  const wrong = hashes.slice(); wrong[3] ^= 1n;
  const r2 = unpackBlock(packBlock(raw, 1, wrong), raw.length);
  assert.is((r2 as { code: number }).code, ERR_RAW);
});

test('page-hashed block: lengths that are not whole pages, or more than 64 pages, are refused', () => {
  assert.throws(() => packBlock(new Uint8Array(PAGE + 1), 1, new BigUint64Array(2)), /whole pages/);
  assert.throws(() => packBlock(new Uint8Array(65 * PAGE), 0, new BigUint64Array(65)), /whole pages/);
  // a crafted header: the flag on a block of 100 raw bytes
  const blk = packBlock(new Uint8Array(100).fill(7), 0);
  blk[5] = 1;
  rehashPayload(blk);
  assert.is((unpackBlock(blk, 100) as { code: number }).code, ERR_LENGTH);
  // other flag bits are unknown: refused as an unknown codec
  const b2 = packBlock(new Uint8Array(PAGE).fill(7), 0);
  b2[5] = 2;
  assert.is((unpackBlock(b2, PAGE) as { code: number }).code, -2);
  b2[5] = 0; b2[6] = 1;
  assert.is((unpackBlock(b2, PAGE) as { code: number }).code, -2);
  // a flipped payload byte is still a payload hash error first
  const b3 = packBlock(pages(2, 5), 0, hashPages(pages(2, 5)).hashes);
  b3[40] ^= 1;
  assert.is((unpackBlock(b3, 2 * PAGE) as { code: number }).code, ERR_PAYLOAD);
});

test('archives: page blocks are page-hashed, byte and index blocks are not; convert round trip is exact', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tscr-ph-'));
  try {
    const src = join(SHARED_IMAGES, 'tree', 'images');
    const arc = join(tmp, 'a.tscr');
    await dirToArchive(src, arc);
    const b = readFileSync(arc);
    const r = ArchiveReader.open(arc);
    r.verify();
    r.close();
    let paged = 0, plain = 0;
    for (let at = HEADER_SIZE; at + 32 <= b.length && b.readUInt32LE(at) === 0x4B4C4254; at += 32 + b.readUInt32LE(at + 12)) {
      if (b[at + 5] === 1) { paged++; assert.is(b.readUInt32LE(at + 8) % PAGE, 0); } else plain++;
    }
    assert.ok(paged > 0, 'some page blocks');
    assert.ok(plain > 0, 'byte and index blocks');
    const out = join(tmp, 'out');
    archiveToDir(arc, out);
    for (const f of readdirSync(src)) {
      assert.equal(Buffer.compare(readFileSync(join(out, f)), readFileSync(join(src, f))), 0, f);
    }
  } finally { rmSync(tmp, { recursive: true, force: true }); }
});

test.run();
