// CRIU's own compressed pages (criu-dev --compress / --compress-region): compressed
// images are built from the shared uncompressed CRIU 4.2 images in both modes, then
// decoded/re-encoded byte-identical, read back equal to the original pages, converted
// to a tscr archive and back byte-identical, and corruption is named. Debian's `lz4`
// decodes our blocks (plain LZ4 block format).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync, existsSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../lib/paths.ts';
import { decodeImage, encodeImage, decodeToJSON, encodeFromJSON } from '../lib/images.ts';
import { dirToArchive, archiveToDir } from '../lib/archive.ts';
import {
  transformDir, pagemapFiles, pagemapLayout, rawPages, readRawRange, isCompressedDir, inventoryCompression,
  PE_PAYLOAD_ALIGNED, COMPRESS_PER_PAGE, COMPRESS_REGION,
} from '../lib/criucomp.ts';

const SHARED = existsSync(join(ROOT, '..', 'shared', 'criu-images')) ? join(ROOT, '..', 'shared', 'criu-images') : '/work/shared/criu-images';
const NAMES = ['loop', 'mem', 'tree', 'threads'].filter((n) => existsSync(join(SHARED, n, 'images')));
const tmp = mkdtempSync(join(tmpdir(), 'tscr-criucomp-'));
const CLI = join(ROOT, 'bin', 'tscr.js');

function makeCompressed(name: string, mode: 'page' | 'region', regionSize = 64 << 10): string {
  const src = join(SHARED, name, 'images');
  const dst = join(tmp, `${name}-${mode}`);
  rmSync(dst, { recursive: true, force: true });
  mkdirSync(dst);
  for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dst, f));
  for (const [n, b] of transformDir(src, { mode, regionSize })) writeFileSync(join(dst, n), b);
  return dst;
}

function sameDir(a: string, b: string): void {
  assert.equal(readdirSync(b).sort(), readdirSync(a).sort(), `file names of ${b}`);
  for (const n of readdirSync(a)) assert.ok(readFileSync(join(a, n)).equals(readFileSync(join(b, n))), `${n} differs between ${a} and ${b}`);
}

test('shared images exist', () => { assert.ok(NAMES.length >= 3, `found ${NAMES} in ${SHARED}`); });

for (const name of NAMES) {
  for (const mode of ['page', 'region'] as const) {
    test(`${name} ${mode}: fields, codec byte-identity, pages read back`, () => {
      const src = join(SHARED, name, 'images');
      const dir = makeCompressed(name, mode);
      assert.ok(isCompressedDir(dir));
      assert.not.ok(isCompressedDir(src));
      const inv = inventoryCompression(dir);
      assert.is(inv.mode, mode === 'page' ? COMPRESS_PER_PAGE : COMPRESS_REGION);
      assert.is(inv.imgVersion, 3);
      if (mode === 'region') assert.is(inv.regionSize, 64 << 10);
      let sawSizes = false;
      for (const pm of pagemapFiles(dir)) {
        const bytes = readFileSync(join(dir, pm));
        // crit-shaped JSON and back, byte-identical
        const json = decodeToJSON(bytes);
        assert.ok(Buffer.from(encodeFromJSON(json)).equals(bytes), `${pm} re-encodes byte-identical`);
        const img = decodeImage(bytes);
        for (const e of img.entries.slice(1)) {
          if (!e.compressed_size) continue;
          sawSizes = true;
          assert.ok(Array.isArray(e.compressed_size));
          assert.is(e.total_compressed_size, e.compressed_size.reduce((a: number, b: number) => a + b, 0));
          if (mode === 'region') assert.is(e.region_pages, 16); else assert.is(e.region_pages, undefined);
        }
        const l = pagemapLayout(dir, pm);
        const orig = readFileSync(join(src, l.pages));
        assert.ok(Buffer.from(rawPages(dir, l)).equals(orig), `${l.pages} decompresses to the original pages`);
        const n = orig.length / 4096;
        if (n > 3) assert.ok(Buffer.from(readRawRange(dir, l, 1, n - 2)).equals(orig.subarray(4096, (n - 1) * 4096)), 'partial read');
      }
      assert.ok(sawSizes, 'some entry carries compressed_size');
      const invBytes = readFileSync(join(dir, 'inventory.img'));
      assert.ok(Buffer.from(encodeImage(decodeImage(invBytes))).equals(invBytes), 'inventory re-encodes byte-identical');
    });

    test(`${name} ${mode}: CRIU dir -> archive -> CRIU dir byte-identical; plain and back`, async () => {
      const dir = join(tmp, `${name}-${mode}`);
      const arc = join(tmp, `${name}-${mode}.tscr`);
      const stats = await dirToArchive(dir, arc, { workers: 0 });
      assert.ok(stats.pages > 0, 'pages went to the page store');
      const back = join(tmp, `${name}-${mode}-back`);
      archiveToDir(arc, back);
      sameDir(dir, back);
      // decompress to plain: identical to the original CRIU images
      const plain = join(tmp, `${name}-${mode}-plain`);
      mkdirSync(plain);
      for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(plain, f));
      for (const [n, b] of transformDir(dir, null)) writeFileSync(join(plain, n), b);
      sameDir(join(SHARED, name, 'images'), plain);
    });
  }
}

test('region mode up to 4 MiB and bad sizes refused', () => {
  const dir = makeCompressed('mem', 'region', 4 << 20);
  const l = pagemapLayout(dir, pagemapFiles(dir)[0]);
  assert.ok(Buffer.from(rawPages(dir, l)).equals(readFileSync(join(SHARED, 'mem', 'images', l.pages))));
  assert.throws(() => transformDir(dir, { mode: 'region', regionSize: 8 << 20 }), /./);
});

test('corruption is detected and named', () => {
  const dir = makeCompressed('loop', 'page');
  const pm = pagemapFiles(dir)[0];
  const l = pagemapLayout(dir, pm);
  const lz = l.blocks.find((b) => b.size > 0 && b.size < b.pages * 4096)!;
  assert.ok(lz, 'an LZ4 block exists');
  const data = readFileSync(join(dir, l.pages));
  // a truncated pages file
  assert.throws(() => rawPages(dir, l, data.subarray(0, data.length - 1)), (e: any) => e.code === 'E_TRUNCATED' && e.where.file.endsWith(l.pages));
  // trailing bytes
  assert.throws(() => rawPages(dir, l, Buffer.concat([data, Buffer.alloc(1)])), (e: any) => e.code === 'E_CORRUPT');
  // a broken LZ4 block: a match offset that points before the block
  const bad = Buffer.from(data);
  bad.fill(0xff, lz.offset, lz.offset + lz.size);
  assert.throws(() => rawPages(dir, l, bad), (e: any) => e.code === 'E_CORRUPT' && e.where.file.endsWith(l.pages) && e.where.offset >= lz.offset && /LZ4/.test(e.message));
  // pagemap sizes that do not add up
  const img = decodeImage(readFileSync(join(dir, pm)), { raw: true });
  const e = img.entries.find((x: any) => x.compressed_size);
  e.total_compressed_size += 1;
  assert.throws(() => pagemapLayout(dir, pm, img.entries), (x: any) => x.code === 'E_CORRUPT' && /total_compressed_size/.test(x.message));
  e.total_compressed_size -= 1;
  e.compressed_size.push(10);
  assert.throws(() => pagemapLayout(dir, pm, img.entries), (x: any) => x.code === 'E_CORRUPT' && /block sizes/.test(x.message));
  e.compressed_size.pop();
  e.compressed_size[0] = 5000;
  assert.throws(() => pagemapLayout(dir, pm, img.entries), (x: any) => x.code === 'E_CORRUPT' && /more than/.test(x.message));
});

test('PE_PAYLOAD_ALIGNED shows by name and raw-started entries are aligned', () => {
  const dir = join(tmp, 'mem-page');
  const pm = pagemapFiles(dir)[0];
  const json = JSON.parse(decodeToJSON(readFileSync(join(dir, pm)), { pretty: true }));
  const aligned = json.entries.filter((e: any) => typeof e.flags === 'string' && e.flags.includes('PE_PAYLOAD_ALIGNED'));
  assert.ok(aligned.length > 0, 'mem has incompressible pages: some entries are aligned');
  const l = pagemapLayout(dir, pm);
  for (const p of l.padding) assert.ok((p.offset + p.len) % 4096 === 0);
  const raw = decodeImage(readFileSync(join(dir, pm)), { raw: true });
  assert.ok(raw.entries.some((e: any) => (e.flags & PE_PAYLOAD_ALIGNED) !== 0));
});

test('Debian lz4 decodes our blocks (LZ4 block format)', () => {
  const probe = spawnSync('lz4', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) { console.log('  (lz4 CLI not installed: skipped)'); return; }
  const dir = join(tmp, 'loop-region');
  const l = pagemapLayout(dir, pagemapFiles(dir)[0]);
  const data = readFileSync(join(dir, l.pages));
  const orig = readFileSync(join(SHARED, 'loop', 'images', l.pages));
  let checked = 0;
  for (const b of l.blocks) {
    if (b.size === 0 || b.size === b.pages * 4096) continue;
    // wrap the raw block in a minimal LZ4 frame (no checksums) for the CLI
    const fh = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x70, 0xdf]); // FLG: v01, block-indep; BD: 4 MiB; HC byte
    const bs = Buffer.alloc(4); bs.writeUInt32LE(b.size, 0);
    const frame = Buffer.concat([fh, bs, data.subarray(b.offset, b.offset + b.size), Buffer.alloc(4)]);
    const f = join(tmp, `blk-${checked}.lz4`);
    writeFileSync(f, frame);
    const r = spawnSync('lz4', ['-d', '-c', f]);
    assert.is(r.status, 0, `lz4 -d: ${r.stderr}`);
    assert.ok(r.stdout.equals(orig.subarray(b.rawOffset, b.rawOffset + b.pages * 4096)), `block at ${b.offset} decodes equal`);
    if (++checked >= 3) break;
  }
  assert.ok(checked > 0);
});

/** One LZ4 block made by liblz4 (Debian's lz4 CLI, -1), taken out of its frame. */
function liblz4Block(raw: Uint8Array): Uint8Array {
  const r = spawnSync('lz4', ['-1', '-c', '-B4', '--no-frame-crc'], { input: raw });
  assert.is(r.status, 0, String(r.stderr));
  const f = r.stdout as Buffer;
  const flg = f[4];
  let p = 7 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
  const size = f.readUInt32LE(p); p += 4;
  if (size & 0x80000000) return raw; // stored uncompressed by lz4: not smaller
  return f.subarray(p, p + size);
}

test('blocks made by liblz4 (not by us): read back, and archive round trip keeps them byte-identical', async () => {
  if (spawnSync('lz4', ['--version']).status !== 0) { console.log('  (lz4 CLI not installed: skipped)'); return; }
  const src = join(SHARED, 'loop', 'images');
  const dir = join(tmp, 'loop-liblz4');
  mkdirSync(dir);
  for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir, f));
  let same = 0, differ = 0;
  const { lz4Compress } = await import('../lib/archive-core.ts');
  for (const [n, b] of transformDir(src, { mode: 'page', compress: (raw) => {
    const c = liblz4Block(raw);
    if (Buffer.from(lz4Compress(raw, 1)).equals(c)) same++; else differ++;
    return c;
  } })) writeFileSync(join(dir, n), b);
  console.log(`  liblz4 -1 vs tscr level 1 on ${same + differ} loop pages: ${same} identical blocks, ${differ} different`);
  const l = pagemapLayout(dir, pagemapFiles(dir)[0]);
  assert.ok(Buffer.from(rawPages(dir, l)).equals(readFileSync(join(src, l.pages))));
  const arc = join(tmp, 'loop-liblz4.tscr');
  await dirToArchive(dir, arc, { workers: 0 });
  const back = join(tmp, 'loop-liblz4-back');
  archiveToDir(arc, back);
  sameDir(dir, back);
});

test('CLI: convert --to-criu-compressed, archive round trip, --to-criu-plain', () => {
  if (!existsSync(join(ROOT, 'dist', 'tscr.js'))) { console.log('  (dist/ missing: skipped)'); return; }
  const src = join(SHARED, 'tree', 'images');
  const c = join(tmp, 'cli-c'), a = join(tmp, 'cli.tscr'), b = join(tmp, 'cli-b'), p = join(tmp, 'cli-p');
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  let r = run('convert', src, c, '--to-criu-compressed=region', '--region-size', '128K', '--json');
  assert.is(r.status, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).pages, 'region');
  assert.is(inventoryCompression(c).regionSize, 128 << 10);
  r = run('convert', c, a); assert.is(r.status, 0, r.stderr);
  r = run('convert', a, b); assert.is(r.status, 0, r.stderr);
  sameDir(c, b);
  r = run('convert', a, p, '--to-criu-plain'); assert.is(r.status, 0, r.stderr);
  sameDir(src, p);
  // region -> per page from a compressed source equals per page from the plain one
  const c2 = join(tmp, 'cli-c2'), c3 = join(tmp, 'cli-c3');
  r = run('convert', c, c2, '--to-criu-compressed'); assert.is(r.status, 0, r.stderr);
  r = run('convert', src, c3, '--to-criu-compressed=page'); assert.is(r.status, 0, r.stderr);
  sameDir(c3, c2);
  r = run('convert', src, join(tmp, 'cli-x'), '--to-criu-compressed=zstd');
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /page or region/);
});

test('offline tools read compressed pages: diff, validate, mem', () => {
  if (!existsSync(join(ROOT, 'dist', 'tscr.js'))) { console.log('  (dist/ missing: skipped)'); return; }
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  for (const mode of ['page', 'region'] as const) {
    const dir = makeCompressed('mem', mode);
    let r = run('diff', join(SHARED, 'mem', 'images'), dir);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /no differences/);
    r = run('validate', dir, '--json');
    assert.is(r.status, 0, r.stdout + r.stderr);
    r = run('mem', dir, '--json');
    assert.is(r.status, 0, r.stderr);
    // a broken block is named by tscr mem (reads pages)
    const l = pagemapLayout(dir, pagemapFiles(dir)[0]);
    const lz = l.blocks.find((b) => b.size > 0 && b.size < b.pages * 4096)!;
    const data = readFileSync(join(dir, l.pages));
    data.fill(0xff, lz.offset, lz.offset + lz.size);
    writeFileSync(join(dir, l.pages), data);
    r = run('diff', join(SHARED, 'mem', 'images'), dir);
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /LZ4/);
    r = run('validate', dir, '--json');
    assert.is.not(r.status, 0);
    const found = JSON.parse(r.stdout).findings.filter((f: any) => f.code === 'pages.compressed');
    assert.is(found.length, 1, r.stdout);
    assert.is(found[0].file, l.pages);
    assert.ok(found[0].offset >= lz.offset && found[0].offset < lz.offset + lz.size, `offset ${found[0].offset} in the bad block`);
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
