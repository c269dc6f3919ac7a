// CRIU's own compressed memory pages (criu-dev, 2026: `criu dump --compress` and
// `--compress-region SIZE`). Offline and portable: LZ4 runs in our Wasm core.
//
// Layout (as tscr understands it, from go-criu PR #259's pagemap.proto/inventory.proto
// and CRIU PR #2895's description; see README "Compact checkpoints"):
// - inventory_entry.compress (15): 0 off, 1 one LZ4 block per page, 2 regions;
//   compress_region_size (16): region bytes in region mode; img_version is 3.
// - pagemap_entry.compressed_size (6, packed uint32): one size per block of a present
//   entry; a block is one page, or region_pages (8) pages (the entry's last block may
//   be shorter). 0 = all-zero block, no payload; == the block's raw size = stored raw;
//   anything else = one LZ4 *block-format* payload (no frame) of that many bytes.
//   total_compressed_size (7) = the sum.
// - flags bit PE_PAYLOAD_ALIGNED (8): the entry's payload starts at the next 4 KiB
//   boundary of pages-N.img (zero padding before it).
// - An entry with no compressed_size is stored raw (nr_pages * 4096 bytes).
import { readFileSync, readdirSync, statSync, existsSync, openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { TscrError } from './errors.ts';
import { decodeImage, encodeImage } from './images.ts';
import { lz4Compress, lz4Decompress, Scratch, ex } from './archive-core.ts';
import { preadFull } from './fsread.ts';

export const PAGE = 4096;
export const PE_PARENT = 1, PE_LAZY = 2, PE_PRESENT = 4, PE_PAYLOAD_ALIGNED = 8;
export const COMPRESS_OFF = 0, COMPRESS_PER_PAGE = 1, COMPRESS_REGION = 2;
export const MAX_REGION = 4 << 20;
export const DEFAULT_REGION = 256 << 10;
/** Inventory img_version of images that may hold compressed pages. */
export const IMG_VERSION_COMPRESSED = 3;

export type CompressMode = 'page' | 'region';

/** One block of a present pagemap entry, where its payload is in pages-N.img. */
export interface Block {
  pages: number;       // pages in the block
  rawOffset: number;   // offset of its first page in the uncompressed pages file
  offset: number;      // payload offset in pages-N.img
  size: number;        // stored size (0 = zero block; pages*4096 = raw; else LZ4)
}

export interface PagemapLayout {
  pagemap: string;     // pagemap-P.img file name
  pages: string;       // pages-N.img file name
  compressed: boolean; // any entry carries compressed_size or PE_PAYLOAD_ALIGNED
  rawSize: number;     // bytes of the uncompressed pages file
  fileSize: number;    // bytes the payload occupies in pages-N.img (incl. padding)
  blocks: Block[];
  padding: { offset: number; len: number }[];
}

const num = (v: unknown): number => typeof v === 'bigint' ? Number(v) : Number(v ?? 0);
const entryPages = (e: any): number => num(e.nr_pages) || num(e.compat_nr_pages);
/** Does this entry have pages in the pages file? (old images have no flags: not in_parent = present) */
const isPresent = (e: any): boolean => e.flags === undefined ? !e.in_parent : (num(e.flags) & PE_PRESENT) !== 0;

function corrupt(file: string, msg: string, offset?: number, hint?: string): TscrError {
  return new TscrError('E_CORRUPT', msg, { file, offset, hint: hint ?? 'the checkpoint is damaged; dump again or restore from a good copy' });
}

/** Compression recorded in a directory's inventory.img (mode 0 when absent). */
export function inventoryCompression(dir: string): { mode: number; regionSize: number; imgVersion: number } {
  const p = join(dir, 'inventory.img');
  if (!existsSync(p)) return { mode: 0, regionSize: 0, imgVersion: 0 };
  const inv = decodeImage(readFileSync(p), { file: p, raw: true }).entries[0] ?? {};
  const mode = num(inv.compress);
  if (mode > COMPRESS_REGION) throw corrupt(p, `${p}: unknown page compression mode ${mode}`);
  const regionSize = num(inv.compress_region_size);
  if (mode === COMPRESS_REGION && (regionSize === 0 || regionSize % PAGE || regionSize > MAX_REGION)) {
    throw corrupt(p, `${p}: compression region size ${regionSize} is not a multiple of 4096 up to 4 MiB`);
  }
  return { mode, regionSize, imgVersion: num(inv.img_version) };
}

/** The pagemap-*.img files of a directory, sorted. */
export function pagemapFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => /^pagemap-\d+\.img$/.test(n)).sort();
}

/**
 * Where every block of a pagemap lives in its pages file, with every size checked
 * against the pagemap's own promises and against the pages file's size.
 */
export function pagemapLayout(dir: string, pagemap: string, entries?: any[]): PagemapLayout {
  const pmPath = join(dir, pagemap);
  entries ??= decodeImage(readFileSync(pmPath), { file: pmPath, raw: true }).entries;
  const head = entries[0];
  if (!head || head.pages_id === undefined) throw corrupt(pmPath, `${pmPath} has no pagemap head`, 0);
  const pages = `pages-${num(head.pages_id)}.img`;
  const out: PagemapLayout = { pagemap, pages, compressed: false, rawSize: 0, fileSize: 0, blocks: [], padding: [] };
  let off = 0, raw = 0;
  for (let i = 1; i < entries.length; i++) {
    const e = entries[i];
    const flags = num(e.flags);
    const n = entryPages(e);
    const sizes: number[] = (e.compressed_size ?? []).map(num);
    const where = `${pmPath} entry ${i}`;
    const present = isPresent(e);
    if (!present) {
      if (sizes.length || (flags & PE_PAYLOAD_ALIGNED)) throw corrupt(pmPath, `${where}: compression data on an entry with no pages in the pages file`);
      continue;
    }
    if (flags & PE_PAYLOAD_ALIGNED) {
      out.compressed = true;
      const a = Math.ceil(off / PAGE) * PAGE;
      if (a > off) out.padding.push({ offset: off, len: a - off });
      off = a;
    }
    if (!sizes.length) {
      if (e.total_compressed_size !== undefined || e.region_pages !== undefined) throw corrupt(pmPath, `${where}: compression totals without block sizes`);
      out.blocks.push({ pages: n, rawOffset: raw, offset: off, size: n * PAGE });
      off += n * PAGE; raw += n * PAGE;
      continue;
    }
    out.compressed = true;
    const rp = num(e.region_pages);
    if (rp * PAGE > MAX_REGION) throw corrupt(pmPath, `${where}: region of ${rp} pages is larger than 4 MiB`);
    const per = rp || 1;
    const want = Math.ceil(n / per);
    if (sizes.length !== want) throw corrupt(pmPath, `${where}: ${sizes.length} block sizes for ${n} pages in blocks of ${per} (expected ${want})`);
    let total = 0;
    for (let b = 0; b < sizes.length; b++) {
      const bp = Math.min(per, n - b * per);
      const s = sizes[b];
      if (s > bp * PAGE) throw corrupt(pmPath, `${where}: block ${b} claims ${s} bytes, more than its ${bp * PAGE} raw bytes`);
      out.blocks.push({ pages: bp, rawOffset: raw, offset: off, size: s });
      off += s; raw += bp * PAGE; total += s;
    }
    if (e.total_compressed_size !== undefined && num(e.total_compressed_size) !== total) {
      throw corrupt(pmPath, `${where}: total_compressed_size ${num(e.total_compressed_size)} differs from the sum of its block sizes ${total}`);
    }
  }
  out.rawSize = raw; out.fileSize = off;
  return out;
}

/** Does this directory hold CRIU-compressed pages (inventory flag or any pagemap field)? */
export function isCompressedDir(dir: string): boolean {
  if (inventoryCompression(dir).mode) return true;
  return pagemapFiles(dir).some((pm) => pagemapLayout(dir, pm).compressed);
}

function checkFileSize(dir: string, l: PagemapLayout, data: Uint8Array): void {
  const p = join(dir, l.pages);
  if (data.length < l.fileSize) {
    throw new TscrError('E_TRUNCATED', `${p} is ${data.length} bytes but ${l.pagemap} needs ${l.fileSize}`, { file: p, offset: data.length, hint: 'the pages image was cut short; the checkpoint is incomplete' });
  }
  if (data.length > l.fileSize) throw corrupt(p, `${p} has ${data.length - l.fileSize} bytes after the last block ${l.pagemap} describes`, l.fileSize);
}

/** Decode one stored block to its raw pages (checked: exact length, valid LZ4). */
export function decodeBlock(file: string, b: Block, payload: Uint8Array): Uint8Array {
  const rawLen = b.pages * PAGE;
  if (b.size === 0) return new Uint8Array(rawLen);
  if (b.size === rawLen) return payload;
  const r = lz4Decompress(payload, rawLen);
  if (!(r instanceof Uint8Array)) throw corrupt(file, `${file}: bad LZ4 block at offset ${b.offset} (${b.size} bytes, byte ${r.badOffset} of the block)`, b.offset + r.badOffset);
  if (r.length !== rawLen) throw corrupt(file, `${file}: LZ4 block at offset ${b.offset} decodes to ${r.length} bytes, not ${rawLen}`, b.offset);
  return r;
}

/** The uncompressed pages file (what `criu dump` without --compress writes) of one pagemap. */
export function rawPages(dir: string, l: PagemapLayout, data?: Uint8Array): Uint8Array {
  const p = join(dir, l.pages);
  data ??= readFileSync(p);
  checkFileSize(dir, l, data);
  if (!l.compressed) return data;
  const out = new Uint8Array(l.rawSize);
  decodeBlocks(p, l.blocks, data, out, 0);
  return out;
}

const zIn = new Scratch(), zOut = new Scratch();
const GROUP = 16 << 20;

/**
 * Decode blocks (in file order) into out, where block b lands at b.rawOffset - outBase.
 * Groups of up to 16 MiB go through Wasm in one copy in and one copy out.
 */
function decodeBlocks(file: string, blocks: Block[], data: Uint8Array, out: Uint8Array, outBase: number): void {
  const e = ex();
  for (let i = 0; i < blocks.length;) {
    let j = i, rawLen = 0;
    while (j < blocks.length && (j === i || rawLen + blocks[j].pages * PAGE <= GROUP)) { rawLen += blocks[j].pages * PAGE; j++; }
    const g0 = blocks[i], gl = blocks[j - 1];
    const inLo = g0.offset, inHi = gl.offset + gl.size, rawLo = g0.rawOffset;
    const contiguous = gl.rawOffset + gl.pages * PAGE - rawLo === rawLen;
    if (!contiguous) { for (let k = i; k < j; k++) out.set(decodeBlock(file, blocks[k], data.subarray(blocks[k].offset, blocks[k].offset + blocks[k].size)), blocks[k].rawOffset - outBase); i = j; continue; }
    zOut.ensure(rawLen);
    zIn.put(data.subarray(inLo, inHi));
    const inPtr = zIn.ptr, outPtr = zOut.ptr;
    for (let k = i; k < j; k++) {
      const b = blocks[k], n = b.pages * PAGE, dOff = b.rawOffset - rawLo;
      if (b.size === 0) { new Uint8Array(e.memory.buffer, outPtr + dOff, n).fill(0); continue; }
      if (b.size === n) { new Uint8Array(e.memory.buffer).copyWithin(outPtr + dOff, inPtr + b.offset - inLo, inPtr + b.offset - inLo + n); continue; }
      const r = e.lz4_decompress(inPtr, b.offset - inLo, b.size, outPtr, dOff, n);
      if (r < 0) throw corrupt(file, `${file}: bad LZ4 block at offset ${b.offset} (${b.size} bytes, byte ${-r - 1} of the block)`, b.offset + (-r - 1));
      if (r !== n) throw corrupt(file, `${file}: LZ4 block at offset ${b.offset} decodes to ${r} bytes, not ${n}`, b.offset);
    }
    out.set(new Uint8Array(e.memory.buffer, outPtr, rawLen), rawLo - outBase);
    i = j;
  }
}

/** Read `count` raw pages starting at raw page `first` (only the blocks needed). */
export function readRawRange(dir: string, l: PagemapLayout, first: number, count: number, data?: Uint8Array): Uint8Array {
  const p = join(dir, l.pages);
  data ??= readFileSync(p);
  checkFileSize(dir, l, data);
  const lo = first * PAGE, hi = (first + count) * PAGE;
  if (hi > l.rawSize) throw new TscrError('E_CORRUPT', `${p}: pages ${first}..${first + count} lie past its ${l.rawSize / PAGE} pages`, { file: p });
  // blocks are in raw order: binary-search the first one that reaches lo
  let a = 0, z = l.blocks.length;
  while (a < z) { const m = (a + z) >> 1; const b = l.blocks[m]; if (b.rawOffset + b.pages * PAGE <= lo) a = m + 1; else z = m; }
  let end = a;
  while (end < l.blocks.length && l.blocks[end].rawOffset < hi) end++;
  if (a >= end) return new Uint8Array(0);
  const need = l.blocks.slice(a, end);
  const base = need[0].rawOffset;
  const span = new Uint8Array(need[need.length - 1].rawOffset + need[need.length - 1].pages * PAGE - base);
  decodeBlocks(p, need, data, span, base);
  return span.subarray(lo - base, hi - base);
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]) return false;
  return true;
}

export interface CompressOptions {
  mode: CompressMode; regionSize?: number; level?: number;
  /** Another LZ4 block compressor (e.g. liblz4 through the lz4 CLI, in tests). */
  compress?: (raw: Uint8Array) => Uint8Array;
}

/**
 * Compress one pagemap's pages the way criu-dev lays them out. `entries` are the
 * pagemap's raw-decoded entries (head first); returns new entries and the new pages file.
 * A block is stored LZ4 when that is smaller than raw, raw otherwise, and as nothing
 * when all zero. An entry whose payload starts with a raw block is page-aligned
 * (PE_PAYLOAD_ALIGNED); an entry of raw blocks only keeps the plain layout.
 */
export function compressPagemap(entries: any[], raw: Uint8Array, opts: CompressOptions): { entries: any[]; pages: Uint8Array } {
  const parts: Uint8Array[] = [];
  let size = 0;
  const out = compressPagemapTo(entries, raw.length, (o, n) => raw.subarray(o, o + n), (b) => { parts.push(b); size += b.length; }, opts);
  const pages = new Uint8Array(size);
  let o = 0;
  for (const b of parts) { pages.set(b, o); o += b.length; }
  return { entries: out, pages };
}

/**
 * Streaming form: raw pages come from read(offset, len) (len at most 16 MiB), the new
 * pages file goes out through write() in order; one entry's output is held at a time.
 */
export function compressPagemapTo(entries: any[], rawTotal: number, read: (off: number, len: number) => Uint8Array, write: (b: Uint8Array) => void, opts: CompressOptions): any[] {
  const rs = opts.regionSize ?? DEFAULT_REGION;
  if (opts.mode === 'region' && (!(rs > 0) || rs % PAGE || rs > MAX_REGION)) {
    throw new TscrError('E_USAGE', `region size ${rs} must be a multiple of 4 KiB up to 4 MiB`);
  }
  const per = opts.mode === 'region' ? rs / PAGE : 1;
  const level = opts.level ?? 1;
  let off = 0, rawOff = 0;
  const outEntries = [entries[0]];
  for (let i = 1; i < entries.length; i++) {
    const e = { ...entries[i] };
    delete e.compressed_size; delete e.total_compressed_size; delete e.region_pages;
    let flags = num(e.flags);
    const present = isPresent(e);
    flags &= ~PE_PAYLOAD_ALIGNED;
    if (e.flags !== undefined) e.flags = flags;
    outEntries.push(e);
    if (!present) continue;
    const n = entryPages(e);
    if (rawOff + n * PAGE > rawTotal) throw new TscrError('E_CORRUPT', `the pages file is shorter than pagemap entry ${i} needs`);
    const { sizes, payload, startedRaw, anyCompressed } = opts.compress
      ? compressEntrySlow(read(rawOff, n * PAGE), per, opts.compress)
      : compressEntry(read, rawOff, n * PAGE, per, level);
    rawOff += n * PAGE;
    if (startedRaw) {
      const a = Math.ceil(off / PAGE) * PAGE;
      if (a > off) { write(new Uint8Array(a - off)); off = a; }
      e.flags = flags | PE_PAYLOAD_ALIGNED;
    }
    for (const b of payload) { write(b); off += b.length; }
    if (anyCompressed) {
      e.compressed_size = sizes;
      e.total_compressed_size = sizes.reduce((a, b) => a + b, 0);
      if (opts.mode === 'region') e.region_pages = per;
    }
  }
  if (rawOff !== rawTotal) throw new TscrError('E_CORRUPT', `the pages file has ${rawTotal - rawOff} bytes the pagemap does not describe`);
  return outEntries;
}

interface EntryOut { sizes: number[]; payload: Uint8Array[]; startedRaw: boolean | null; anyCompressed: boolean }

function compressEntrySlow(raw: Uint8Array, per: number, compress: (b: Uint8Array) => Uint8Array): EntryOut {
  const o: EntryOut = { sizes: [], payload: [], startedRaw: null, anyCompressed: false };
  for (let p = 0; p * PAGE < raw.length; p += per) {
    const blk = raw.subarray(p * PAGE, Math.min(raw.length, (p + per) * PAGE));
    if (isZero(blk)) { o.sizes.push(0); o.anyCompressed = true; continue; }
    const c = compress(blk);
    if (c.length < blk.length) { o.sizes.push(c.length); o.payload.push(c); o.anyCompressed = true; o.startedRaw ??= false; }
    else { o.sizes.push(blk.length); o.payload.push(blk); o.startedRaw ??= true; }
  }
  return o;
}

const cIn = new Scratch(), cOut = new Scratch();
let zeroBuf = new Uint8Array(0);

/** One entry's pages in blocks of `per` pages, through Wasm in 16 MiB groups (one copy in, one out). */
function compressEntry(read: (off: number, len: number) => Uint8Array, base: number, total: number, per: number, level: number): EntryOut {
  const e = ex();
  const o: EntryOut = { sizes: [], payload: [], startedRaw: null, anyCompressed: false };
  const bs = per * PAGE;
  if (zeroBuf.length < bs) zeroBuf = new Uint8Array(bs);
  const group = Math.max(bs, Math.floor(GROUP / bs) * bs);
  for (let g = 0; g < total; g += group) {
    const chunk = read(base + g, Math.min(total - g, group));
    const nb = Math.ceil(chunk.length / bs);
    cOut.ensure(e.lz4_bound(bs) * nb);
    cIn.put(chunk);
    const inPtr = cIn.ptr, outPtr = cOut.ptr;
    let w = 0;
    for (let k = 0; k < nb; k++) {
      const off = k * bs, len = Math.min(bs, chunk.length - off);
      const blk = chunk.subarray(off, off + len);
      if (Buffer.compare(blk, zeroBuf.subarray(0, len)) === 0) { o.sizes.push(0); o.anyCompressed = true; continue; }
      const cap = e.lz4_bound(len);
      const n = level >= 2 ? e.lz4_compress_hc(inPtr, off, len, outPtr, w, cap, level >= 3 ? 64 : 4) : e.lz4_compress(inPtr, off, len, outPtr, w, cap);
      if (n > 0 && n < len) { o.sizes.push(n); w += n; o.anyCompressed = true; o.startedRaw ??= false; }
      else {
        o.startedRaw ??= true;
        new Uint8Array(e.memory.buffer).copyWithin(outPtr + w, inPtr + off, inPtr + off + len);
        o.sizes.push(len); w += len;
      }
    }
    o.payload.push(new Uint8Array(e.memory.buffer, outPtr, w).slice());
  }
  return o;
}

/** Entries with the compression fields removed (what an uncompressed dump would hold). */
export function plainEntries(entries: any[]): any[] {
  return entries.map((e, i) => {
    if (i === 0) return e;
    const c = { ...e };
    delete c.compressed_size; delete c.total_compressed_size; delete c.region_pages;
    if (c.flags !== undefined) c.flags = num(c.flags) & ~PE_PAYLOAD_ALIGNED;
    return c;
  });
}

/** New inventory.img bytes with the compression mode recorded (or cleared). */
export function inventoryWith(invBytes: Uint8Array, file: string, mode: number, regionSize: number): Uint8Array {
  const img = decodeImage(invBytes, { file, raw: true });
  const inv = { ...img.entries[0] };
  delete inv.compress; delete inv.compress_region_size;
  if (mode) {
    inv.img_version = Math.max(num(inv.img_version), IMG_VERSION_COMPRESSED);
    inv.compress = mode;
    if (mode === COMPRESS_REGION) inv.compress_region_size = regionSize;
  } else if (num(inv.img_version) === IMG_VERSION_COMPRESSED) {
    inv.img_version = IMG_VERSION_COMPRESSED - 1; // undo what compressing did (V1.1 readers accept it)
  }
  return encodeImage({ magic: img.magic, entries: [inv, ...img.entries.slice(1)] }, { file });
}

/** Files of a CRIU directory transformed to the given page compression (null = uncompressed). */
export function transformDir(dir: string, opts: CompressOptions | null): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const inv = inventoryCompression(dir);
  for (const pm of pagemapFiles(dir)) {
    const pmPath = join(dir, pm);
    const img = decodeImage(readFileSync(pmPath), { file: pmPath, raw: true });
    const l = pagemapLayout(dir, pm, img.entries);
    const raw = rawPages(dir, l);
    if (opts) {
      const r = compressPagemap(img.entries, raw, opts);
      out.set(pm, encodeImage({ magic: img.magic, entries: r.entries }, { file: pm }));
      out.set(l.pages, r.pages);
    } else {
      out.set(pm, encodeImage({ magic: img.magic, entries: plainEntries(img.entries) }, { file: pm }));
      out.set(l.pages, raw);
    }
  }
  const invPath = join(dir, 'inventory.img');
  if (existsSync(invPath)) {
    const mode = opts ? (opts.mode === 'region' ? COMPRESS_REGION : COMPRESS_PER_PAGE) : COMPRESS_OFF;
    if (mode !== inv.mode || (opts?.mode === 'region' && (opts.regionSize ?? DEFAULT_REGION) !== inv.regionSize)) {
      out.set('inventory.img', inventoryWith(readFileSync(invPath), invPath, mode, opts?.regionSize ?? DEFAULT_REGION));
    }
  }
  return out;
}

/** Parse a --compress-region style size: bytes, or with K/M suffix; multiple of 4 KiB, at most 4 MiB. */
export function parseRegionSize(s: string | number | undefined): number {
  if (s === undefined || s === '' || s === true as any) return DEFAULT_REGION;
  const m = /^(\d+)([kKmM]?)$/.exec(String(s));
  const v = m ? Number(m[1]) * (m[2] ? (/k/i.test(m[2]) ? 1024 : 1 << 20) : 1) : NaN;
  if (!(v > 0) || v % PAGE || v > MAX_REGION) {
    throw new TscrError('E_USAGE', `region size "${s}" must be a multiple of 4 KiB up to 4 MiB`, { hint: 'e.g. 256K (the default) or 4M' });
  }
  return v;
}

// ------------------------------------------------------------ lossless archive form
//
// In a tscr archive, a compressed pages-N.img is kept as its raw pages (deduplicated
// like any other) plus a small recipe file `pages-N.img.criu-lz4` that rebuilds the
// exact CRIU bytes: for every LZ4 block, either "our compressor at level L gives these
// exact bytes" (1 byte) or the original block bytes (liblz4's output generally differs
// from ours, so real criu-dev blocks are usually kept). Zero blocks, raw blocks and
// alignment padding (checked to be zeroes) follow from the pagemap.

export const RECIPE_SUFFIX = '.criu-lz4';
const RECIPE_MAGIC = 'TSCRCLZ1';

/** Build the recipe for a compressed pages file; null if it cannot be rebuilt exactly. */
export function makeRecipe(dir: string, l: PagemapLayout, data: Uint8Array, raw: Uint8Array): Uint8Array | null {
  for (const p of l.padding) if (!isZero(data.subarray(p.offset, p.offset + p.len))) return null;
  const parts: Uint8Array[] = [Buffer.from(RECIPE_MAGIC)];
  for (const b of l.blocks) {
    if (b.size === 0 || b.size === b.pages * PAGE) continue;
    const orig = data.subarray(b.offset, b.offset + b.size);
    const src = raw.subarray(b.rawOffset, b.rawOffset + b.pages * PAGE);
    let lvl = 0;
    for (const L of [1, 2]) { const c = lz4Compress(src, L); if (c.length === orig.length && Buffer.compare(c, orig) === 0) { lvl = L; break; } }
    if (lvl) parts.push(Uint8Array.of(lvl));
    else { const h = Buffer.alloc(5); h[0] = 255; h.writeUInt32LE(orig.length, 1); parts.push(h, orig); }
  }
  const recipe = Buffer.concat(parts);
  const back = applyRecipe(join(dir, l.pages), l, raw, recipe);
  return Buffer.compare(back, data) === 0 ? recipe : null;
}

/** Rebuild the compressed pages file from its raw pages and its recipe. */
export function applyRecipe(file: string, l: PagemapLayout, raw: Uint8Array, recipe: Uint8Array): Uint8Array {
  if (raw.length !== l.rawSize) throw corrupt(file, `${file}: ${raw.length} raw bytes, the pagemap needs ${l.rawSize}`);
  if (Buffer.from(recipe.subarray(0, 8)).toString('latin1') !== RECIPE_MAGIC) throw corrupt(file + RECIPE_SUFFIX, `${file}${RECIPE_SUFFIX} is not a tscr compression recipe`, 0);
  const out = new Uint8Array(l.fileSize);
  let r = 8;
  for (const b of l.blocks) {
    const src = raw.subarray(b.rawOffset, b.rawOffset + b.pages * PAGE);
    if (b.size === 0) { if (!isZero(src)) throw corrupt(file, `${file}: a zero block of the pagemap holds data`); continue; }
    if (b.size === src.length) { out.set(src, b.offset); continue; }
    if (r >= recipe.length) throw corrupt(file + RECIPE_SUFFIX, `${file}${RECIPE_SUFFIX} ends early`, r);
    const t = recipe[r++];
    let blk: Uint8Array;
    if (t === 255) {
      if (r + 4 > recipe.length) throw corrupt(file + RECIPE_SUFFIX, `${file}${RECIPE_SUFFIX} ends early`, r);
      const n = Buffer.from(recipe.buffer, recipe.byteOffset + r, 4).readUInt32LE(0); r += 4;
      blk = recipe.subarray(r, r + n); r += n;
    } else blk = lz4Compress(src, t);
    if (blk.length !== b.size) throw corrupt(file + RECIPE_SUFFIX, `${file}${RECIPE_SUFFIX}: block at ${b.offset} rebuilds to ${blk.length} bytes, the pagemap says ${b.size}`, r);
    out.set(blk, b.offset);
  }
  if (r !== recipe.length) throw corrupt(file + RECIPE_SUFFIX, `${file}${RECIPE_SUFFIX} has trailing bytes`, r);
  return out;
}

/** Size of a file in a directory, or -1. */
export function sizeOf(dir: string, name: string): number {
  try { return statSync(join(dir, name)).size; } catch { return -1; }
}

/**
 * Restore from a CRIU directory with compressed pages: every block is decoded and
 * checked first (before any process exists), then the restore engine reads raw pages
 * through this hook (RestoreOptions.pages), decoding only the blocks it needs.
 * Returns null when the directory holds no compressed pages.
 */
export function openCompressedDirForRestore(dir: string): { read(name: string, firstPage: number, count: number): Uint8Array; has(name: string): boolean; close(): void } | null {
  if (!isCompressedDir(dir)) return null;
  const readers = new Map<string, CompressedPages>();
  const closeAll = () => { for (const r of readers.values()) r.close(); };
  try {
    const shmem = readdirSync(dir).filter((n) => /^pagemap-shmem-\d+\.img$/.test(n));
    for (const pm of [...pagemapFiles(dir), ...shmem]) {
      const l = pagemapLayout(dir, pm);
      if (shmem.includes(pm) && l.compressed) {
        throw new TscrError('E_UNSUPPORTED', `compressed shared-memory pages (${pm}) cannot be restored yet`, { file: join(dir, pm), hint: 'run `tscr convert DIR NEWDIR --to-criu-plain` and restore NEWDIR' });
      }
      if (shmem.includes(pm)) continue;
      const r = new CompressedPages(dir, l);
      readers.set(l.pages, r);
      r.verify(); // full check of every block and size, before any process exists
    }
  } catch (e) { closeAll(); throw e; }
  return {
    has: (name) => readers.has(name),
    read: (name, first, count) => {
      const r = readers.get(name);
      if (!r) throw new TscrError('E_NOT_FOUND', `${join(dir, name)} belongs to no pagemap`, { file: join(dir, name) });
      return r.read(first * PAGE, count * PAGE);
    },
    close: closeAll,
  };
}

/**
 * Rewrite a CRIU directory in place with compressed (opts) or plain (null) pages.
 * Every new file is written beside its old one first and only then renamed over it,
 * so a failure before the renames leaves the directory as it was. Returns the bytes
 * of the new pages files.
 */
export function rewriteDir(dir: string, opts: CompressOptions | null, sync = false): { pagesBytes: number; files: number } {
  const tmps: [string, string][] = [];
  const newFile = (name: string): { fd: number; write: (b: Uint8Array) => void } => {
    const tmp = join(dir, `${name}.tscr-partial`);
    const fd = openSync(tmp, 'w', 0o600);
    tmps.push([tmp, join(dir, name)]);
    return { fd, write: (b) => { let o = 0; while (o < b.length) o += writeSync(fd, b, o, b.length - o); } };
  };
  const finish = (f: { fd: number }) => { try { if (sync) fsyncSync(f.fd); } finally { closeSync(f.fd); } };
  let pagesBytes = 0;
  try {
    const inv = inventoryCompression(dir);
    for (const pm of pagemapFiles(dir)) {
      const pmPath = join(dir, pm);
      const img = decodeImage(readFileSync(pmPath), { file: pmPath, raw: true });
      const l = pagemapLayout(dir, pm, img.entries);
      const src = openSync(join(dir, l.pages), 'r');
      try {
        const size = fstatSync(src).size;
        if (size !== l.fileSize) checkFileSize(dir, l, { length: size } as Uint8Array);
        const readAt = (off: number, len: number): Uint8Array => {
          const b = Buffer.allocUnsafe(len);
          const got = preadFull(src, b, off, len);
          if (got < len) throw new TscrError('E_TRUNCATED', `${join(dir, l.pages)} ends early at ${off + got}`, { file: join(dir, l.pages), offset: off + got });
          return b;
        };
        const out = newFile(l.pages);
        let entries: any[];
        try {
          if (opts) {
            // raw offsets -> the plain pages, decoded group by group when the source is compressed
            const rawRead = l.compressed ? (off: number, len: number) => readRawRangeFrom(join(dir, l.pages), l, off, len, readAt) : readAt;
            entries = compressPagemapTo(img.entries, l.rawSize, rawRead, (b) => { out.write(b); pagesBytes += b.length; }, opts);
          } else {
            for (let o = 0; o < l.rawSize; o += GROUP) {
              const len = Math.min(GROUP, l.rawSize - o);
              const b = l.compressed ? readRawRangeFrom(join(dir, l.pages), l, o, len, readAt) : readAt(o, len);
              out.write(b); pagesBytes += b.length;
            }
            entries = plainEntries(img.entries);
          }
        } finally { finish(out); }
        const pmOut = newFile(pm);
        try { pmOut.write(encodeImage({ magic: img.magic, entries }, { file: pm })); } finally { finish(pmOut); }
      } finally { closeSync(src); }
    }
    const invPath = join(dir, 'inventory.img');
    if (existsSync(invPath)) {
      const mode = opts ? (opts.mode === 'region' ? COMPRESS_REGION : COMPRESS_PER_PAGE) : COMPRESS_OFF;
      if (mode !== inv.mode || (opts?.mode === 'region' && (opts.regionSize ?? DEFAULT_REGION) !== inv.regionSize)) {
        const f = newFile('inventory.img');
        try { f.write(inventoryWith(readFileSync(invPath), invPath, mode, opts?.regionSize ?? DEFAULT_REGION)); } finally { finish(f); }
      }
    }
  } catch (e) {
    for (const [t] of tmps) { try { unlinkSync(t); } catch { /* */ } }
    if (e instanceof TscrError) throw e;
    throw new TscrError('E_IO', `cannot write the rewritten images in ${dir}: ${(e as Error).message}`, { file: dir, hint: 'the directory was left as it was; check free space and permissions' });
  }
  // pages files first, then pagemaps, then inventory: readers see old or new pairs
  tmps.sort((a, b) => rank(a[1]) - rank(b[1]));
  for (const [t, d] of tmps) renameSync(t, d);
  return { pagesBytes, files: tmps.length };
}

/** Raw bytes [off, off+len) of a compressed pages file, reading only the blocks needed through readAt. */
function readRawRangeFrom(file: string, l: PagemapLayout, off: number, len: number, readAt: (off: number, len: number) => Uint8Array): Uint8Array {
  const lo = off, hi = off + len;
  let a = 0, z = l.blocks.length;
  while (a < z) { const m = (a + z) >> 1; const b = l.blocks[m]; if (b.rawOffset + b.pages * PAGE <= lo) a = m + 1; else z = m; }
  let end = a;
  while (end < l.blocks.length && l.blocks[end].rawOffset < hi) end++;
  const need = l.blocks.slice(a, end);
  if (!need.length) return new Uint8Array(0);
  const inLo = need[0].offset, inHi = need[need.length - 1].offset + need[need.length - 1].size;
  const data = readAt(inLo, inHi - inLo);
  const shifted = need.map((b) => ({ ...b, offset: b.offset - inLo }));
  const base = need[0].rawOffset;
  const span = new Uint8Array(need[need.length - 1].rawOffset + need[need.length - 1].pages * PAGE - base);
  decodeBlocks(file, shifted, data, span, base);
  return span.subarray(lo - base, hi - base);
}
const rank = (p: string) => /\/pages-/.test(p) ? 0 : /\/pagemap-/.test(p) ? 1 : 2;

/** Problems with a directory's compressed pages, for `tscr validate`: [file, offset, message]. */
export function criucompProblems(dir: string): { file: string; offset: number; message: string }[] {
  const out: { file: string; offset: number; message: string }[] = [];
  const add = (e: unknown, file: string) => {
    const w = (e as TscrError).where ?? {};
    out.push({ file: String(w.file ?? file).split('/').pop()!, offset: Number(w.offset ?? 0), message: (e as Error).message });
  };
  let pms: string[];
  try { if (!isCompressedDir(dir)) return out; pms = pagemapFiles(dir); } catch (e) { add(e, 'inventory.img'); return out; }
  for (const pm of pms) {
    let l: PagemapLayout;
    try { l = pagemapLayout(dir, pm); } catch (e) { add(e, pm); continue; }
    if (!l.compressed) continue;
    try { rawPages(dir, l); } catch (e) { add(e, l.pages); }
  }
  return out;
}

/** Raw-offset reads of one compressed pages file through a file descriptor (no whole-file copy). */
export class CompressedPages {
  private fd: number;
  readonly file: string;
  constructor(dir: string, readonly layout: PagemapLayout) {
    this.file = join(dir, layout.pages);
    try { this.fd = openSync(this.file, 'r'); } catch (e) { throw new TscrError('E_NOT_FOUND', `cannot open ${this.file}: ${(e as Error).message}`, { file: this.file }); }
    const size = fstatSync(this.fd).size;
    if (size !== layout.fileSize) { closeSync(this.fd); checkFileSize(dir, layout, { length: size } as Uint8Array); }
  }
  private readAt = (off: number, len: number): Uint8Array => {
    const b = Buffer.allocUnsafe(len);
    const got = preadFull(this.fd, b, off, len);
    if (got < len) throw new TscrError('E_TRUNCATED', `${this.file} ends early at ${off + got}`, { file: this.file, offset: off + got });
    return b;
  };
  /** Raw bytes [off, off+len) (clipped to the raw size). */
  read(off: number, len: number): Uint8Array {
    len = Math.max(0, Math.min(len, this.layout.rawSize - off));
    return len ? readRawRangeFrom(this.file, this.layout, off, len, this.readAt) : new Uint8Array(0);
  }
  /** Decode every block (16 MiB at a time): throws a TscrError naming the file and offset. */
  verify(): void { for (let o = 0; o < this.layout.rawSize; o += GROUP) this.read(o, GROUP); }
  close(): void { closeSync(this.fd); }
}
