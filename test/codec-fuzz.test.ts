// Fuzz: thousands of mutations of the shared images (and of their JSON for encode).
// Each one must decode, or throw a TscrError naming the file and a byte offset;
// never another exception, a hang, or runaway memory. Bounded time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { decodeImage, decodeToJSON, encodeFromJSON, encodeImage, readPagemap } from '../lib/images.ts';
import { TscrError } from '../lib/errors.ts';
import { core, passBytes, release } from '../core-as/host.ts';
import { sharedImages } from './codec-shared.ts';

const BUDGET_MS = Number(process.env.TSCR_FUZZ_MS ?? 12000);
const images = sharedImages().map((i) => ({ ...i, bytes: readFileSync(i.path) }));
let seed = Number(process.env.TSCR_FUZZ_SEED ?? 0x5eed);
const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return ((seed >>> 8) % Math.max(1, n)); };

function mutate(b: Buffer, other: Buffer): Buffer {
  const m = Buffer.from(b);
  switch (rnd(8)) {
    case 0: { for (let k = 1 + rnd(4); k > 0; k--) m[rnd(m.length)] ^= 1 << rnd(8); return m; }        // bit flips
    case 1: return m.subarray(0, rnd(m.length));                                                        // truncation
    case 2: { const p = 8 + rnd(m.length - 8); if (p + 4 <= m.length) m.writeUInt32LE([0xffffffff, 0x7fffffff, rnd(1 << 30), m.length * 2][rnd(4)] >>> 0, p); return m; } // absurd sizes
    case 3: { const p = rnd(m.length); for (let k = 0; k < 1 + rnd(12) && p + k < m.length; k++) m[p + k] = 0xff; return m; } // varint corruption
    case 4: { const a = rnd(m.length), c = rnd(other.length); return Buffer.concat([m.subarray(0, a), other.subarray(c, c + rnd(64))]); } // splice
    case 5: { const a = rnd(m.length); return Buffer.concat([m.subarray(0, a), Buffer.from([rnd(256), rnd(256), rnd(256)]), m.subarray(a)]); } // insertion
    case 6: { if (m.length > 12) m.writeUInt32LE((m.readUInt32LE(8) + rnd(9) - 4) >>> 0, 8); return m; } // first entry size +-4
    default: { const p = rnd(m.length); m[p] = [0x80, 0x0a, 0x12, 0x1a, 0x22, 0x0f, 0x07][rnd(7)]; return m; } // tags/wire types
  }
}

// allocation pressure between cases makes the core's incremental GC run steps in the
// middle of codec calls, so a reference the GC must not see (or miss) shows up here
let pressure = 0;
function gcPressure(): void {
  if (++pressure % 7 === 0) release(passBytes(new Uint8Array(50000 + (pressure % 13) * 20000)));
}

function check(what: string, fn: () => unknown): 'ok' | 'err' {
  gcPressure();
  try { fn(); return 'ok'; } catch (e) {
    if (!(e instanceof TscrError)) throw new Error(`${what}: not a TscrError: ${(e as Error)?.stack ?? e}`);
    if (e.code === 'E_INTERNAL') throw new Error(`${what}: internal error: ${e.message}`);
    if (typeof e.where.offset !== 'number' || e.where.file === undefined) throw new Error(`${what}: error without file/offset: ${e.describe()}`);
    return 'err';
  }
}

test('binary mutations decode or fail cleanly', () => {
  const t0 = Date.now();
  let n = 0, ok = 0;
  while (Date.now() - t0 < BUDGET_MS * 0.7 && n < 200000) {
    const img = images[rnd(images.length)];
    const m = mutate(img.bytes, images[rnd(images.length)].bytes);
    const what = `mutation #${n} of ${img.set}/${img.name} (seed ${seed})`;
    if (check(what, () => {
      const o = decodeImage(m, { file: img.name });
      decodeToJSON(m, { pretty: true, file: img.name });
      encodeImage(o); // what decodes must encode again
    }) === 'ok') ok++;
    if (img.name.startsWith('pagemap-')) check(what + ' (readPagemap)', () => readPagemap(m, { file: img.name }));
    n++;
  }
  const mem = core().memory.buffer.byteLength;
  console.log(`  ${n} binary mutations: ${ok} decoded, ${n - ok} rejected with TscrError; wasm memory ${(mem / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(n >= 2000, `only ${n} mutations ran`);
  assert.ok(mem < 512 * 2 ** 20, 'wasm memory stays bounded');
});

test('JSON mutations encode or fail cleanly', () => {
  const t0 = Date.now();
  const texts = images.map((i) => decodeToJSON(i.bytes, { pretty: rnd(2) === 0, file: i.name }));
  let n = 0, ok = 0;
  while (Date.now() - t0 < BUDGET_MS * 0.3 && n < 100000) {
    const t = texts[rnd(texts.length)];
    const p = rnd(t.length);
    const variants = [
      t.slice(0, p) + t.slice(p + 1 + rnd(8)),
      t.slice(0, p) + ['"x"', '[]', '{}', 'true', '-1', '1e9', '"0xZZ"', '18446744073709551616', 'null', ','][rnd(10)] + t.slice(p),
      t.slice(0, p),
      t.replace(/: (\d+)/, ': "$1"'),
    ];
    const v = variants[rnd(variants.length)];
    if (check(`JSON mutation #${n}`, () => encodeFromJSON(v, { file: 'fuzz.json' })) === 'ok') ok++;
    n++;
  }
  console.log(`  ${n} JSON mutations: ${ok} encoded, ${n - ok} rejected with TscrError`);
  assert.ok(n >= 1000);
});

test('specific bad inputs name the file, kind and offset', () => {
  const pm = images.find((i) => i.name.startsWith('pagemap-'))!;
  const cases: [string, Buffer, string][] = [
    ['truncated', pm.bytes.subarray(0, pm.bytes.length - 3), 'E_TRUNCATED'],
    ['wrong magic', Buffer.concat([Buffer.from('garbage!'), pm.bytes.subarray(8)]), 'E_BAD_MAGIC'],
    ['absurd size', Buffer.concat([pm.bytes.subarray(0, 8), Buffer.from([0xff, 0xff, 0xff, 0xff])]), 'E_TOO_LARGE'],
    ['length past end', Buffer.concat([pm.bytes.subarray(0, 8), Buffer.from([0x40, 0, 0, 0, 0x08, 0x01])]), 'E_TRUNCATED'],
    ['bad varint', Buffer.concat([pm.bytes.subarray(0, 8), Buffer.from([11, 0, 0, 0, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]), 'E_BAD_VARINT'],
    ['nested length overflow', Buffer.concat([pm.bytes.subarray(0, 8), Buffer.from([3, 0, 0, 0, 0x0a, 0x7f, 0x00])]), 'E_BAD_LENGTH'],
  ];
  for (const [name, b, code] of cases) {
    try { decodeImage(b, { file: 'x.img' }); assert.unreachable(`${name} decoded`); } catch (e) {
      if (!(e instanceof TscrError)) throw e;
      assert.is(e.code, code, `${name}: ${e.describe()}`);
      assert.is(e.where.file, 'x.img');
      assert.type(e.where.offset, 'number');
      if (code !== 'E_BAD_MAGIC') assert.is(e.where.kind, 'PAGEMAP');
    }
  }
  // a nested message whose length runs past its parent
  const core0 = images.find((i) => i.name.startsWith('core-'))!;
  const m = Buffer.from(core0.bytes);
  m[13] = 0x7f; // first field of the core entry is mtype (varint); corrupt the thread_info length instead
  check('nested', () => decodeImage(m, { file: 'core.img' }));
  // wrong JSON types
  for (const bad of ['{"magic": "PSTREE", "entries": [{"pid": "abc"}]}', '{"magic": "PSTREE", "entries": [{"pid": [1]}]}',
    '{"magic": "PSTREE", "entries": {}}', '{"magic": 5, "entries": []}', '{"magic": "NOPE", "entries": []}',
    '{"magic": "CORE", "entries": [{"mtype": "Z80"}]}', '{"magic": "PSTREE", "entries": [{"pid": 1.5}]}',
    '{"magic": "PSTREE", "entries": [{"nosuch": 1}]}', '{"magic": "PSTREE", "entries": [{"pid": 99999999999}]}']) {
    try { encodeFromJSON(bad, { file: 'bad.json' }); assert.unreachable(bad); } catch (e) {
      if (!(e instanceof TscrError)) throw e;
      assert.is(e.code, 'E_BAD_JSON', `${bad}: ${e.describe()}`);
      assert.is(e.where.file, 'bad.json');
    }
  }
});

test.run();
