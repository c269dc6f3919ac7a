// The pagemap's flat fast paths (core-as codec.ts, flatRun, flatRunPretty) against the general
// emitter: for every kind of entry, compact and --pretty text must be byte-identical with them on and
// off (codec_flat), errors must name the same entry and offset, and the object shapes
// (decodeImage, big values as BigInt) must not change. Entries are written here as raw
// protobuf, so they cover what encodeImage never makes: unknown fields, fields out of
// order or repeated, overlong varints, uint32 fields holding 64-bit values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { core } from '../core-as/host.ts';
import { decodeFileToJSON, decodeImage, decodeToJSON, encodeImage } from '../lib/images.ts';
import { main } from '../cli/main.ts';
import { IMG_COMMON_MAGIC } from '../core-as/schema/kinds.ts';

const PAGEMAP = 0x56084025;

function varint(v: bigint | number): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return out;
}
/** field num = value, as a varint field */
const vf = (num: number, v: bigint | number) => [...varint(num << 3), ...varint(v)];
/** a length-delimited field */
const lf = (num: number, bytes: number[]) => [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];

function image(entries: number[][]): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number) => parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
  u32(IMG_COMMON_MAGIC); u32(PAGEMAP);
  for (const e of [vf(1, 1), ...entries]) { u32(e.length); parts.push(...e); }
  return Uint8Array.from(parts);
}

/** decode with the fast path off, then on; both texts (or both error messages) */
function both(fn: () => string): [string, string] {
  const ex = core();
  const run = () => { try { return fn(); } catch (e) { return `ERROR ${(e as Error).message} @${(e as any).where?.offset}`; } };
  const was = ex.codec_flat(0);
  try {
    const slow = run();
    ex.codec_flat(1);
    return [slow, run()];
  } finally { ex.codec_flat(was); }
}

const canon = (va: bigint | number, pages: number, flags: number, inParent?: boolean) =>
  [...vf(1, va), ...vf(2, 0), ...(inParent === undefined ? [] : vf(3, inParent ? 1 : 0)), ...vf(4, flags), ...vf(5, pages)];

const BIG = [0n, 1n, 9n, 10n, 99n, 100n, 9999n, 10000n, 99999999n, 100000000n, 4294967295n, 4294967296n,
  9999999999999999n, 10000000000000000n, 9007199254740991n, 9007199254740992n, 9007199254740993n,
  0x7fffffffffffn, 0x7ffffffff000n, 0xffffffffff600000n, 18446744073709551615n, 12345678901234567890n];

test('canonical CRIU entries: every flag combination, in_parent, huge vaddrs', () => {
  const entries: number[][] = [];
  for (let f = 0; f < 16; f++) entries.push(canon(0x400000 + f * 4096, f + 1, f), canon(0x7f0000000000 + f, 1, f, f % 2 === 0));
  for (const v of BIG) entries.push(canon(v, Number(v % 1000n), 4), [...vf(1, v), ...vf(2, v), ...vf(5, v)]);
  for (const fl of [0x10, 0x30, 0x80000000, 0xffffffff]) entries.push(canon(4096, 1, fl));
  const img = image(entries);
  const [slow, fast] = both(() => decodeToJSON(img));
  assert.is(fast, slow);
  const j = JSON.parse(fast);
  assert.is(j.entries.length, entries.length + 1);
  assert.equal(j.entries[1], { vaddr: 0x400000, compat_nr_pages: 0, flags: 0, nr_pages: 1 });
  assert.equal(j.entries[2], { vaddr: 0x7f0000000000, compat_nr_pages: 0, in_parent: true, flags: 0, nr_pages: 1 });
  // digits are exact beyond 2^53 (JSON.parse would round them)
  assert.ok(fast.includes('{"vaddr": 18446744073709551615, "compat_nr_pages": 4294967295, "nr_pages": 18446744073709551615}'));
  assert.ok(fast.includes('"vaddr": 9007199254740993, '));
  assert.ok(fast.includes('"flags": 4294967295, '));
  // object mode keeps big values as BigInt, fast path or not
  const [oslow, ofast] = both(() => JSON.stringify(decodeImage(img, { raw: true }), (_k, v) => typeof v === 'bigint' ? `big:${v}` : v));
  assert.is(ofast, oslow);
  assert.ok(ofast.includes('"vaddr":"big:18446744073709551615"'));
  // --pretty (crit show) has its own flat path for CRIU's layout: hex vaddr, flags by name
  const [pslow, pfast] = both(() => decodeToJSON(img, { pretty: true }));
  assert.is(pfast, pslow);
  assert.ok(pfast.includes('"flags": "PE_PARENT | PE_LAZY | PE_PRESENT | PE_PAYLOAD_ALIGNED"'));
  assert.ok(pfast.includes('"vaddr": "0xffffffffffffffff"'));
  assert.ok(pfast.includes('"flags": "0x80000000"'));
  assert.ok(pfast.includes('"vaddr": "0x0",'));
});

test('entries the fast path leaves to the general path print exactly as before', () => {
  const odd: number[][] = [
    [],                                                   // empty entry
    vf(1, 4096),                                          // one field
    [...vf(5, 3), ...vf(1, 8192)],                        // out of field order
    [...vf(1, 4096), ...vf(1, 8192), ...vf(5, 1)],        // repeated scalar (last one wins)
    [...canon(4096, 1, 4), ...lf(6, [...varint(100), ...varint(300)])], // criu-dev compressed_size
    [...canon(4096, 1, 4), ...vf(7, 400), ...vf(8, 2)],   // total_compressed_size, region_pages
    [...canon(4096, 1, 4), ...vf(9, 7)],                  // unknown varint field
    [...canon(4096, 1, 4), ...vf(20, 7)],                 // unknown field with a two-byte tag
    [...vf(1, 4096), ...lf(10, [1, 2, 3])],               // unknown length-delimited field
    [...vf(1, 4096), 0x5d, 1, 2, 3, 4],                   // unknown fixed32 field
    [0x08, 0x80, 0x80, 0x00, 0x10, 0x80, 0x00],           // overlong varints (same values)
    [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // ten-byte varint
    canon(0x1000, 1, 6, false),
  ];
  const img = image(odd);
  const [slow, fast] = both(() => decodeToJSON(img));
  assert.is(fast, slow);
  const [pslow, pfast] = both(() => decodeToJSON(img, { pretty: true }));
  assert.is(pfast, pslow);
  const j = JSON.parse(fast);
  assert.equal(j.entries[1], {});
  assert.equal(j.entries[3], { vaddr: 8192, nr_pages: 3 });
  assert.equal(j.entries[5].compressed_size, [100, 300]);
  assert.ok(typeof j.entries[7]._unknown === 'string');
  assert.equal(j.entries[11], { vaddr: 0, compat_nr_pages: 0 });
  assert.ok(fast.endsWith('{"vaddr": 4096, "compat_nr_pages": 0, "in_parent": false, "flags": 6, "nr_pages": 1}]}'));
});

test('corrupt and cut entries: the same error, entry and offset with or without the fast path', () => {
  const good = image([canon(4096, 1, 4), canon(8192, 2, 6)]);
  const cases: Uint8Array[] = [
    good.subarray(0, good.length - 3),                   // cut inside the last entry
    good.subarray(0, good.length - 15),                  // cut inside an entry size
    image([canon(4096, 1, 4), [0x08, 0x80, 0x80]]),      // varint runs past its message
    image([canon(4096, 1, 4), [0x0f, 1]]),               // wire type 7
    image([canon(4096, 1, 4), [...vf(1, 4096), 0x15, 1, 2, 3, 4]]), // fixed32 where a varint belongs
    image([canon(4096, 1, 4), [...vf(1, 1), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]]), // tag longer than 10 bytes
  ];
  for (const img of cases) {
    for (const pretty of [false, true]) {
      const [slow, fast] = both(() => decodeToJSON(img, { file: 'pm.img', pretty }));
      assert.ok(slow.startsWith('ERROR'), slow);
      assert.is(fast, slow);
    }
  }
});

test('a large pagemap streamed from a file (chunks growing across entries) is identical both ways', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tscr-flatpm-'));
  try {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0);
    const entries: number[][] = [];
    let va = 0x400000n;
    for (let i = 0; i < 40000; i++) {
      va += BigInt(4096 * (1 + (rnd() % 50)));
      if (i === 20000) va = 0x7ff000000000n;
      const r = rnd() % 100;
      if (r === 0) entries.push([...canon(va, 1, 4), ...vf(9, rnd())]);
      else if (r === 1) entries.push([...canon(va, 2, 4), ...lf(6, varint(rnd() % 5000))]);
      else entries.push(canon(va, 1 + (rnd() % 9), rnd() % 16, r < 10 ? true : undefined));
    }
    const path = join(dir, 'pagemap-1.img');
    writeFileSync(path, image(entries));
    const text = (pretty: boolean) => () => { const parts: string[] = []; decodeFileToJSON(path, (s) => parts.push(typeof s === 'string' ? s : Buffer.from(s).toString('latin1')), { pretty }); return parts.join(''); };
    const [slow, fast] = both(text(false));
    assert.is(fast.length, slow.length);
    assert.ok(fast === slow);
    assert.is(JSON.parse(fast).entries.length, 40001);
    const [pslow, pfast] = both(text(true));
    assert.ok(pfast === pslow);
    // the text encodes back to the same bytes where encodeImage writes canonical entries
    const simple = encodeImage({ magic: 'PAGEMAP', entries: [{ pages_id: 1 }, { vaddr: 4096, compat_nr_pages: 0, flags: 4, nr_pages: 1 }] });
    const [a, b] = both(() => decodeToJSON(simple));
    assert.is(b, a);
    assert.is(b, '{"magic": "PAGEMAP", "entries": [{"pages_id": 1}, {"vaddr": 4096, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}]}');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('decode -o replaces an existing file exactly (longer or shorter), never the input', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tscr-flatpm-'));
  const run = async (argv: string[]) => {
    let err = '';
    const rc = await main(argv, { stdout: () => {}, stderr: (s) => { err += s; }, stdoutBytes: () => {} });
    return { rc, err };
  };
  try {
    const pm = join(dir, 'pagemap-1.img');
    writeFileSync(pm, image([canon(4096, 1, 4), canon(0x7fff0000n, 3, 6, true)]));
    const want = decodeToJSON(readFileSync(pm));
    const out = join(dir, 'out.json');
    for (const before of ['x'.repeat(100000), 'y', '']) {
      writeFileSync(out, before);
      const r = await run(['decode', '-i', pm, '-o', out]);
      assert.is(r.rc, 0, r.err);
      assert.is(readFileSync(out, 'latin1'), want);
    }
    const r = await run(['decode', '-i', pm, '-o', join(dir, '.', 'pagemap-1.img')]);
    assert.is(r.rc, 2);
    assert.match(r.err, /is the input file/);
    assert.is(decodeToJSON(readFileSync(pm)), want, 'the input is untouched');
    // a failed decode leaves no output file behind
    const cut = join(dir, 'cut.img');
    writeFileSync(cut, readFileSync(pm).subarray(0, 20));
    writeFileSync(out, 'old');
    assert.is((await run(['decode', '-i', cut, '-o', out])).rc, 1);
    assert.not.ok(existsSync(out));
    assert.is((await run(['decode', '-i', pm, '-o', '/dev/null'])).rc, 0);
    const bad = await run(['decode', '-i', pm, '-o', join(pm, 'x.json')]); // a path under a file
    assert.is(bad.rc, 1);
    assert.match(bad.err, /cannot create .*ENOTDIR/);
    // encode replaces a longer file the same way
    writeFileSync(join(dir, 'pm.json'), want);
    const back = join(dir, 'back.img');
    writeFileSync(back, Buffer.alloc(50000, 0x55));
    assert.is((await run(['encode', '-i', join(dir, 'pm.json'), '-o', back])).rc, 0);
    assert.ok(readFileSync(back).equals(readFileSync(pm)));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();
