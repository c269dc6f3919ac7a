// Every shared CRIU 4.2 image decodes to exactly crit's JSON and re-encodes byte-identical.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { decodeToJSON, decodeImage, encodeImage, encodeFromJSON, imageKindOf, imageInfo } from '../lib/images.ts';
import { sharedImages } from './codec-shared.ts';

const images = sharedImages();

test('reference images are present', () => {
  assert.ok(images.length >= 90, `found ${images.length} images`);
});

for (const img of images) {
  test(`${img.set}/${img.name}: crit JSON, deep-equal object, byte-identical re-encode`, () => {
    const bytes = readFileSync(img.path);
    const ref = readFileSync(img.json, 'utf8');
    const text = decodeToJSON(bytes, { pretty: true, file: img.path });
    assert.equal(JSON.parse(text), JSON.parse(ref));
    assert.is(text, ref, 'same text as crit --pretty');
    const obj = decodeImage(bytes, { file: img.path });
    // JSON.parse(ref) rounds integers above 2^53; ours are exact BigInts (the text check above is exact)
    assert.equal(JSON.parse(JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))), JSON.parse(ref));
    assert.ok(Buffer.from(encodeFromJSON(text)).equals(bytes), 'encode(pretty JSON) is byte-identical');
    assert.ok(Buffer.from(encodeFromJSON(decodeToJSON(bytes))).equals(bytes), 'encode(compact JSON) is byte-identical');
    assert.ok(Buffer.from(encodeImage(obj)).equals(bytes), 'encodeImage is byte-identical');
    assert.is(imageKindOf(img.name)?.name, obj.magic === 'PAGEMAP' ? 'PAGEMAP' : obj.magic);
  });
}

test('imageInfo counts like crit info', () => {
  const pm = images.find((i) => i.name.startsWith('pagemap-') && i.set === 'sockets' && !i.name.includes('shmem'))!;
  const info = imageInfo(readFileSync(pm.path));
  assert.is(info.magic, 'PAGEMAP');
  assert.is(info.count, JSON.parse(readFileSync(pm.json, 'utf8')).entries.length - 1);
});

test('64-bit values above 2^53 are BigInt in memory and exact digits in JSON', () => {
  const img = { magic: 'PAGEMAP', entries: [{ pages_id: 1 }, { vaddr: '0x7fff00000000', compat_nr_pages: 0, flags: 'PE_PRESENT', nr_pages: 18446744073709551615n }] };
  const bytes = encodeImage(img);
  const back = decodeImage(bytes);
  assert.is(back.entries[1].nr_pages, 18446744073709551615n);
  assert.match(decodeToJSON(bytes), /"nr_pages": 18446744073709551615\}/);
  assert.ok(Buffer.from(encodeFromJSON(decodeToJSON(bytes))).equals(Buffer.from(bytes)));
});

test('unknown fields are kept and written back', () => {
  // pstree entry with an extra field 99 (varint 5)
  const base = encodeImage({ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1, sid: 1 }] });
  const b = Buffer.from(base);
  const extra = Buffer.from([0x98, 0x06, 0x05]);
  const size = b.readUInt32LE(8);
  const patched = Buffer.concat([b.subarray(0, 8), Buffer.alloc(4), b.subarray(12), extra]);
  patched.writeUInt32LE(size + 3, 8);
  const img = decodeImage(patched);
  assert.is(typeof img.entries[0]._unknown, 'string');
  assert.ok(Buffer.from(encodeImage(img)).equals(patched));
});

test('unknown image kinds are kept', () => {
  const b = Buffer.from([0x19, 0x43, 0x56, 0x54, 0x01, 0x02, 0x03, 0x04, 9, 8, 7]);
  const img = decodeImage(b);
  assert.is(img.magic, '0x04030201');
  assert.ok(Buffer.from(encodeImage(img)).equals(b));
  assert.ok(Buffer.from(encodeFromJSON(decodeToJSON(b))).equals(b));
});

test('encode accepts keys in any order and ignores extra top-level keys, like crit', () => {
  const want = Buffer.from(encodeImage({ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1, sid: 1 }] }));
  for (const t of ['{"entries": [{"sid": 1, "pgid": 1, "ppid": 0, "pid": 1}], "magic": "PSTREE"}',
    '{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1}], "note": []}']) {
    assert.ok(Buffer.from(encodeFromJSON(t)).equals(want), t);
  }
});

test('imageKindOf knows CRIU file names', () => {
  assert.is(imageKindOf('core-123.img')?.name, 'CORE');
  assert.is(imageKindOf('pagemap-shmem-14064.img')?.name, 'PAGEMAP');
  assert.is(imageKindOf('pages-1.img')?.layout, 'raw');
  assert.is(imageKindOf('tcp-stream-14b924.img')?.name, 'TCP_STREAM');
  assert.is(imageKindOf('stats-dump')?.name, 'STATS');
  assert.is(imageKindOf('reg-files.img')?.name, 'REG_FILES');
  assert.is(imageKindOf('nothing.txt'), null);
});

test.run();
