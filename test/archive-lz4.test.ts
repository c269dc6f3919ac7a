// LZ4 block format interop with Debian's lz4 (liblz4 1.9) both ways, through the
// legacy frame format (magic 0x184C2102, then u32 size + one LZ4 block per 8 MiB),
// which carries plain LZ4 blocks with no extra checksums.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lz4Compress, lz4Decompress } from '../lib/archive-core.ts';

const LEGACY_MAGIC = 0x184c2102;
const LEGACY_BLOCK = 8 << 20;
const haveLz4 = spawnSync('lz4', ['--version'], { stdio: 'ignore' }).status === 0;

function samples(): [string, Uint8Array][] {
  const text = new TextEncoder().encode('checkpoint/restore in TypeScript; '.repeat(3000));
  const mixed = new Uint8Array(300_000);
  for (let i = 0; i < mixed.length; i++) mixed[i] = (i % 1000 < 500) ? (i * 31) & 0xff : (Math.sin(i) * 7) & 0xff;
  const runs = new Uint8Array(70_000).fill(0x41);
  const overlap = new Uint8Array(50_000);
  for (let i = 0; i < overlap.length; i++) overlap[i] = [1, 2, 3][i % 3];
  return [['empty', new Uint8Array(0)], ['1 byte', new Uint8Array([7])], ['12 bytes', randomBytes(12)],
    ['13 bytes', new Uint8Array(13).fill(9)], ['text', text], ['random', randomBytes(200_000)],
    ['mixed', mixed], ['runs', runs], ['period 3', overlap], ['zero page', new Uint8Array(4096)],
    ['9 MiB (two legacy blocks)', new Uint8Array(9 << 20).map((_, i) => (i >> 6) & 0xff)]];
}

function legacyFrame(data: Uint8Array, level = 1): Buffer {
  const parts: Buffer[] = [];
  const m = Buffer.alloc(4); m.writeUInt32LE(LEGACY_MAGIC); parts.push(m);
  for (let o = 0; o < data.length || (o === 0 && data.length === 0 && false); o += LEGACY_BLOCK) {
    const c = lz4Compress(data.subarray(o, Math.min(data.length, o + LEGACY_BLOCK)), level);
    const h = Buffer.alloc(4); h.writeUInt32LE(c.length);
    parts.push(h, Buffer.from(c));
  }
  return Buffer.concat(parts);
}

function parseLegacy(frame: Buffer): Uint8Array {
  assert.is(frame.readUInt32LE(0), LEGACY_MAGIC);
  const out: Uint8Array[] = [];
  let o = 4;
  while (o < frame.length) {
    const n = frame.readUInt32LE(o); o += 4;
    const r = lz4Decompress(frame.subarray(o, o + n), LEGACY_BLOCK);
    if (!(r instanceof Uint8Array)) throw new Error(`bad LZ4 block at ${o}+${r.badOffset}`);
    out.push(r); o += n;
  }
  return Buffer.concat(out);
}

test('our blocks round-trip through our decoder (levels 1, 2, 3)', () => {
  for (const level of [1, 2, 3]) for (const [name, data] of samples()) {
    const c = lz4Compress(data, level);
    const d = lz4Decompress(c, data.length);
    assert.ok(d instanceof Uint8Array, name);
    assert.ok(Buffer.from(d as Uint8Array).equals(Buffer.from(data)), name);
  }
});

test('Debian lz4 decodes blocks we compress (levels 1 and 2)', () => {
  if (!haveLz4) { console.log('  (lz4 not installed: skipped)'); return; }
  for (const level of [1, 2]) for (const [name, data] of samples()) {
    if (data.length === 0) continue;
    const r = spawnSync('lz4', ['-d', '-c', '-q'], { input: legacyFrame(data, level), maxBuffer: 64 << 20 });
    assert.is(r.status, 0, `${name}: ${r.stderr}`);
    assert.ok((r.stdout as Buffer).equals(Buffer.from(data)), name);
  }
});

test('we decode blocks Debian lz4 compresses (levels 1 and 9)', () => {
  if (!haveLz4) { console.log('  (lz4 not installed: skipped)'); return; }
  for (const level of ['-1', '-9']) {
    for (const [name, data] of samples()) {
      if (data.length === 0) continue;
      const r = spawnSync('lz4', [level, '-l', '-c', '-q'], { input: data, maxBuffer: 64 << 20 });
      assert.is(r.status, 0, `${name}: ${r.stderr}`);
      assert.ok(Buffer.from(parseLegacy(r.stdout as Buffer)).equals(Buffer.from(data)), `${name} ${level}`);
    }
  }
});

test('malformed blocks are rejected with the offset, never overrun', () => {
  const data = new TextEncoder().encode('abcdefgh'.repeat(500));
  const c = lz4Compress(data);
  // truncated
  const t = lz4Decompress(c.subarray(0, c.length - 3), data.length);
  assert.not.ok(t instanceof Uint8Array);
  // output room too small
  const s = lz4Decompress(c, data.length - 1);
  assert.not.ok(s instanceof Uint8Array);
  // offset pointing before the start
  const bad = new Uint8Array([0x10, 0x41, 0xff, 0xff, 0x00]);
  const b = lz4Decompress(bad, 100);
  assert.equal(b, { badOffset: 2 });
  // random garbage never crashes
  for (let i = 0; i < 300; i++) lz4Decompress(randomBytes(1 + (i * 37) % 500), 4096);
});

test.run();
