// xxh64 in Wasm against published test vectors, its streaming form against the
// one-shot form, and against native XXH64 as zstd embeds it (a zstd frame's
// content checksum is the low 32 bits of XXH64(content, seed 0)).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { xxh64, hex64, Xxh64Stream, hashPages } from '../lib/archive-core.ts';

const enc = new TextEncoder();

test('published XXH64 vectors (seed 0)', () => {
  assert.is(hex64(xxh64(enc.encode(''))), 'ef46db3751d8e999');
  assert.is(hex64(xxh64(enc.encode('a'))), 'd24ec4f1a98c6e5b');
  assert.is(hex64(xxh64(enc.encode('abc'))), '44bc2cf5ad770999');
  assert.is(hex64(xxh64(enc.encode('Nobody inspects the spammish repetition'))), 'fbcea83c8a378bf1');
});

test('streaming equals one-shot for every split', () => {
  const data = randomBytes(1000);
  const want = xxh64(data, 12345n);
  for (const step of [1, 3, 7, 31, 32, 33, 64, 999]) {
    const s = new Xxh64Stream(12345n);
    for (let o = 0; o < data.length; o += step) s.update(data.subarray(o, o + step));
    assert.is(s.digest(), want, `step ${step}`);
    s.free();
  }
});

test('page hashes: zero pages flagged, others equal xxh64 of the page', () => {
  const pages = new Uint8Array(4 * 4096);
  pages.set(randomBytes(4096), 4096);
  pages[3 * 4096 + 4095] = 1; // only the last byte set: not a zero page
  const r = hashPages(pages);
  assert.equal(Array.from(r.zero), [1, 0, 1, 0]);
  assert.is(r.zeros, 2);
  assert.is(r.hashes[1], xxh64(pages.subarray(4096, 8192)));
  assert.is(r.hashes[3], xxh64(pages.subarray(3 * 4096)));
});

const haveZstd = spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
test('matches native XXH64 (zstd frame checksum) on random sizes', () => {
  if (!haveZstd) { console.log('  (zstd not installed: skipped)'); return; }
  for (const n of [0, 1, 5, 31, 32, 33, 100, 4096, 65537, 1 << 20]) {
    const data = randomBytes(n);
    const r = spawnSync('zstd', ['-1', '-c', '-q', '--check'], { input: data, maxBuffer: 64 << 20 });
    assert.is(r.status, 0);
    const frame = r.stdout as Buffer;
    const check = frame.readUInt32LE(frame.length - 4);
    assert.is(check, Number(xxh64(data) & 0xffffffffn), `size ${n}`);
  }
});

test.run();
