// tscr archives (docs/archive.md): CRIU metadata images kept verbatim, memory
// pages in a content-addressed store (xxh64 + byte comparison, zero pages stored
// as nothing, each distinct page once across the whole tree), LZ4 blocks with
// per-block hashes, a whole-file hash, and an optional parent archive for
// incremental checkpoints.
//
// Library API for the dump and restore engines:
//   const w = ArchiveWriter.create(path, { parent, level, workers });
//   await w.addBytes('core-1.img', bytes);           // any metadata image
//   const s = w.pages('pages-1.img');                 // a pages-N.img, fed as it is read
//   await s.write(run);                               // runs of whole 4 KiB pages, in file order
//   await s.end();
//   const stats = await w.finish();                   // or w.abort() on failure
//
//   const r = ArchiveReader.open(path);               // checks trailer + index
//   r.verify();                                       // every block, whole-file hash, parents
//   r.list(); r.readFile(name); r.readPages(name, firstPage, count);
//
// The heavy work (hashing, zero detection, LZ4, block checks) is in core-as;
// this module only moves bytes and keeps the tables.
import { openSync, closeSync, writeSync, writevSync, fdatasync, fstatSync, unlinkSync, readdirSync, statSync, mkdirSync, chmodSync, renameSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, relative, basename } from 'node:path';
import { TscrError } from './errors.ts';
import { packBlock, unpackBlock, xxh64, Xxh64Stream, hashPages, UNPACK_ERRORS, BLOCK_HEADER, BLOCK_MAGIC, hex64, Scratch } from './archive-core.ts';
import { core } from '../core-as/host.ts';
import { CompressPool } from './archive-pool.ts';
import { mtMemory, mtInstance, packSlot, PAGE, BLOCK_PAGES, BLOCK_BYTES, STAGE_PAGES, STAGE, HASHES, SLOT_HASHES, RING, OUT, OUT_SLOT, RING_SLOTS } from './archive-mt.ts';
import { isCompressedDir, pagemapFiles, pagemapLayout, rawPages, makeRecipe, applyRecipe, RECIPE_SUFFIX, type PagemapLayout } from './criucomp.ts';
import { preadFull } from './fsread.ts';

// page and block sizes are the shared page memory's (lib/archive-mt.ts lays it out with them)
export { PAGE, BLOCK_PAGES };
export const HEADER_SIZE = 64;
export const TRAILER_SIZE = 48;
export const MAGIC = 'TSCRARC1';
export const TRAILER_MAGIC = 'TSCREND1';
export const INDEX_MAGIC = 0x58444954; // 'TIDX'
/**
 * The version tscr writes. Version 2 lays the index's page table out by column and keeps page
 * refs as differences (docs/archive.md); version 1 archives are still read.
 */
export const FORMAT_VERSION = 2;
const OLDEST_VERSION = 1;
/** Raw bytes per block for verbatim files and index chunks. */
export const BYTES_BLOCK = 256 << 10;
const INDEX_CHUNK = 16 << 20;
/** Page blocks sent to a compression worker in one message (2 MiB raw). */
const BATCH_BLOCKS = 8;
/** Bytes written between background fdatasyncs (the final fsync then has little left to do). */
const SYNC_EVERY = 64 << 20;
/**
 * LZ4 level of the index blocks: acceleration 8. Most of the packed index is page hashes, which
 * do not compress; level 1 spent twice as long searching them for matches and, on a 1.14 GiB
 * python3 heap's 6 MB index (format version 1), came out 0.2 MB larger.
 */
const INDEX_LEVEL = -8;
/**
 * Pages from which the compression workers are worth starting: they take 30-70 ms to come up
 * and pack their first blocks, and until then this thread packs on its own. Measured on dumps of
 * 2-48 MiB processes, packing them all on this thread was faster every time (0.20 s against 0.22
 * at 48 MiB; the tree frozen 105 ms against 140). A writer starts its workers when its first
 * page block is full, if the pages announced (pages(..., {expect})) reach this, or if nothing
 * was announced (convert); a dump of a tree this big starts them before the freeze.
 */
const WORKERS_MIN_BYTES = 64 << 20;
/** Page-table block number meaning "this page is in the parent archive". */
export const IN_PARENT = 0xffffffff;
const KIND_BYTES = 0;
const KIND_PAGES = 1;
/** A pages image whose file hash is XXH64 over its pages' XXH64s (0 for an all-zero page), not over its bytes:
 *  written by dumps (incremental ones with memory tracking never read the unchanged pages they take from the
 *  parent; the others save a pass over the bytes). */
const KIND_PAGES_PH = 2;
const HINT_DAMAGED = 'the archive is damaged: nothing was restored from it; use another copy, or convert the checkpoint again';

export interface WriterOptions {
  /** Previous checkpoint (a tscr archive): pages already there are referenced, not stored. */
  parent?: string;
  /** 0 = store, 1 = fast LZ4 (default), 2 = LZ4 with hash chains, 3 = smallest. */
  level?: number;
  /** Compression worker threads (0 = compress in this thread). Default 0. */
  workers?: number;
  /**
   * Write the archive back to disk as it grows (an fdatasync in the background every 64 MiB),
   * so that the caller's final fsync is short. Default true; false when nobody fsyncs it.
   */
  sync?: boolean;
}

export interface ArchiveStats {
  files: number;
  pageFiles: number;
  pages: number;          // pages fed in
  zeroPages: number;      // stored as nothing
  dupPages: number;       // identical to a page already in this archive
  parentPages: number;    // found in the parent archive
  storedPages: number;    // distinct pages stored in this archive
  rawBytes: number;       // bytes of every file fed in
  archiveBytes: number;   // size of the archive file
  blocks: number;
}

// ---------------------------------------------------------------- utilities

class U32Vec {
  a = new Uint32Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) { const b = new Uint32Array(this.a.length * 2); b.set(this.a); this.a = b; }
    this.a[this.n++] = v;
  }
  view(): Uint32Array { return this.a.subarray(0, this.n); }
  /** Room for n more values without growing again. */
  reserve(n: number): void {
    if (this.n + n <= this.a.length) return;
    const b = new Uint32Array(this.n + n); b.set(this.a.subarray(0, this.n)); this.a = b;
  }
}

/**
 * The writer's page lookup: an open-addressing table of page ids keyed by their XXH64
 * (typed arrays, no per-page objects). Several ids may share a hash (a collision stores a
 * second page), so a lookup walks every id of the probe sequence whose hash matches.
 */
class PageIndex {
  slots = new Int32Array(1 << 16);   // page id + 1, 0 = empty
  mask = (1 << 16) - 1;
  count = 0;
  /** pt: the writer's page table, 4 words per page id: hash lo, hash hi, block, offset. */
  constructor(private pt: U32Vec) {}
  /** First slot of the probe sequence of a hash. */
  start(lo: number, hi: number): number { return ((lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0) & this.mask; }
  /** The next id at or after slot i whose hash is (lo, hi), as [id, slot]; id -1 when none. */
  next(lo: number, hi: number, i: number): number {
    const s = this.slots, m = this.mask, P = this.pt.a;
    for (;;) {
      const v = s[i];
      if (v === 0) return -1;
      const id = v - 1;
      if (P[4 * id] === lo && P[4 * id + 1] === hi) { this.at = i; return id; }
      i = (i + 1) & m;
    }
  }
  at = 0;
  /** Room for n more ids without rehashing. */
  reserve(n: number): void {
    while ((this.count + n) * 2 > this.slots.length) this.grow();
  }
  add(id: number): void {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    this.put(id);
    this.count++;
  }
  private put(id: number): void {
    const s = this.slots, m = this.mask;
    let i = this.start(this.pt.a[4 * id], this.pt.a[4 * id + 1]);
    while (s[i] !== 0) i = (i + 1) & m;
    s[i] = id + 1;
  }
  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = this.slots.length - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.put(old[i] - 1);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Growable little-endian byte writer for the index. */
class Out {
  buf = Buffer.alloc(1 << 16);
  n = 0;
  room(k: number): void {
    if (this.n + k > this.buf.length) {
      const b = Buffer.alloc(Math.max(this.buf.length * 2, this.n + k));
      this.buf.copy(b, 0, 0, this.n);
      this.buf = b;
    }
  }
  u8(v: number): void { this.room(1); this.buf[this.n++] = v; }
  u16(v: number): void { this.room(2); this.buf.writeUInt16LE(v, this.n); this.n += 2; }
  u32(v: number): void { this.room(4); this.buf.writeUInt32LE(v >>> 0, this.n); this.n += 4; }
  u64(v: number | bigint): void { this.room(8); this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), this.n); this.n += 8; }
  bytes(b: Uint8Array): void { this.room(b.length); this.buf.set(b, this.n); this.n += b.length; }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u32(b.length); this.bytes(b); }
  u32s(a: Uint32Array): void {
    this.room(a.length * 4);
    if (LITTLE_ENDIAN) this.buf.set(new Uint8Array(a.buffer, a.byteOffset, a.length * 4), this.n);
    else {
      const dv = new DataView(this.buf.buffer, this.buf.byteOffset + this.n, a.length * 4);
      for (let i = 0; i < a.length; i++) dv.setUint32(i * 4, a[i], true);
    }
    this.n += a.length * 4;
  }
  done(): Buffer { return this.buf.subarray(0, this.n); }
}

/** Bounds-checked little-endian reader over the index; errors name the archive and the index offset. */
class In {
  o = 0;
  constructor(private b: Buffer, private file: string) {}
  need(k: number): void {
    if (k < 0 || this.o + k > this.b.length) {
      throw new TscrError('E_CORRUPT', `archive index ends early: needed ${k} bytes at index offset ${this.o} of ${this.b.length}`,
        { file: this.file, offset: this.o, kind: 'archive index', hint: HINT_DAMAGED });
    }
  }
  u8(): number { this.need(1); return this.b[this.o++]; }
  u16(): number { this.need(2); const v = this.b.readUInt16LE(this.o); this.o += 2; return v; }
  u32(): number { this.need(4); const v = this.b.readUInt32LE(this.o); this.o += 4; return v; }
  u64(): bigint { this.need(8); const v = this.b.readBigUInt64LE(this.o); this.o += 8; return v; }
  num(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`a size of ${v} bytes`);
    return Number(v);
  }
  str(): string { const n = this.u32(); this.need(n); const s = this.b.toString('utf8', this.o, this.o + n); this.o += n; return s; }
  u32s(n: number): Uint32Array {
    this.need(n * 4);
    const a = new Uint32Array(n);
    if (LITTLE_ENDIAN) new Uint8Array(a.buffer).set(this.b.subarray(this.o, this.o + n * 4));
    else for (let i = 0; i < n; i++) a[i] = this.b.readUInt32LE(this.o + i * 4);
    this.o += n * 4;
    return a;
  }
  bad(what: string): never {
    throw new TscrError('E_CORRUPT', `archive index is inconsistent: ${what}`, { file: this.file, offset: this.o, kind: 'archive index', hint: HINT_DAMAGED });
  }
}

function ioError(e: unknown, file: string, what: string): TscrError {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return new TscrError('E_NOT_FOUND', `${what}: ${file} does not exist`, { file, hint: 'check the path' });
  return new TscrError('E_IO', `${what}: ${err?.message ?? String(e)}`, { file });
}

function readAt(fd: number, len: number, pos: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  const got = preadFull(fd, b, pos, len);
  return got === len ? b : b.subarray(0, got);
}

function writeAll(fd: number, b: Uint8Array, pos: number): void {
  let done = 0;
  while (done < b.length) done += writeSync(fd, b, done, b.length - done, pos + done);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Is this CRIU file a raw pages image (pages-N.img of whole 4 KiB pages)? */
export function isPagesImage(name: string, size: number): boolean {
  return /^pages-\d+\.img$/.test(basename(name)) && size % PAGE === 0;
}

// ---------------------------------------------------------------- index model

interface FileRec {
  name: string;
  mode: number;
  kind: number;
  size: number;
  hash: bigint;
  chunks?: U32Vec;     // KIND_BYTES: triples (block, offset, length)
  refs?: U32Vec;       // KIND_PAGES: 0 = zero page, k = page id k-1
}

interface FileEntry {
  name: string;
  mode: number;
  kind: 'bytes' | 'pages';
  size: number;
  hash: bigint;
  /** the file hash is over page hashes (KIND_PAGES_PH) */
  pageHashes?: boolean;
  chunks?: Uint32Array;
  refs?: Uint32Array;
}

// ---------------------------------------------------------------- writer

export class PagesSink {
  private stream = core().xxh_new(0n);
  private ended = false;
  constructor(private w: ArchiveWriter, private rec: FileRec) {}
  /** Feed whole 4 KiB pages, in file order. */
  async write(run: Uint8Array): Promise<void> {
    if (this.ended) throw new TscrError('E_INTERNAL', `pages written to ${this.rec.name} after end()`);
    if (run.length % PAGE !== 0) throw new TscrError('E_INTERNAL', `a page run of ${run.length} bytes is not whole 4 KiB pages`, { file: this.rec.name });
    const CH = STAGE_PAGES * PAGE;
    for (let o = 0; o < run.length; o += CH) {
      await this.w.addPageRun(this.rec, run.subarray(o, Math.min(run.length, o + CH)), this.stream);
    }
    this.rec.size += run.length;
  }
  /**
   * Zero-copy variant for page readers: fill(view) writes whole pages into `view` (a view
   * of the shared page memory of at most maxPages pages, often fewer: view.length / 4096;
   * usually the very place in the block ring where the pages are kept) and returns how
   * many pages it wrote. maxPages <= STAGE_PAGES (1024). Returns that number.
   */
  async writeWith(maxPages: number, fill: (view: Uint8Array) => number): Promise<number> {
    if (this.ended) throw new TscrError('E_INTERNAL', `pages written to ${this.rec.name} after end()`);
    const n = await this.w.addPageRunWith(this.rec, Math.min(STAGE_PAGES, Math.max(1, maxPages)), fill, this.stream);
    this.rec.size += n * PAGE;
    return n;
  }
  /**
   * Pages known to be unchanged since the parent checkpoint (memory write tracking,
   * lib/dump/track.ts): page `ids[i]` of the parent's page space, or -1 for a zero page.
   * They are not read at all: the sink must be opened with { pageHashes: true } (its file hash is
   * over page hashes, which the parent's index holds).
   */
  async fromParent(ids: ArrayLike<number>): Promise<void> { await this.writeBatch(0, () => {}, [ids]); }
  /**
   * A mixed batch in file order (memory tracking: written pages read, the rest from the parent):
   * fill(view) writes `readPages` pages (<= STAGE_PAGES, 1024) into `view`; segs then take them in order:
   * a number k = the next k read pages, an array = parent page ids (as fromParent).
   */
  async writeBatch(readPages: number, fill: (view: Uint8Array) => void, segs: (number | ArrayLike<number>)[]): Promise<void> {
    if (this.ended) throw new TscrError('E_INTERNAL', `pages written to ${this.rec.name} after end()`);
    if (this.rec.kind !== KIND_PAGES_PH) throw new TscrError('E_INTERNAL', `${this.rec.name}: pages from the parent need a sink with pageHashes`);
    const n = await this.w.addBatch(this.rec, readPages, fill, segs, this.stream);
    this.rec.size += n * PAGE;
  }
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.w.stats.rawBytes += this.rec.size;
    this.rec.hash = BigInt.asUintN(64, core().xxh_digest(this.stream));
    core().xxh_free(this.stream);
    this.w.files.push(this.rec);
  }
}

export class ArchiveWriter {
  readonly files: FileRec[] = [];
  private fd: number;
  private pos = HEADER_SIZE;
  private whole = new Xxh64Stream();
  // block table, indexed by block id (ids are given when a block is opened; blocks may be written in another order)
  private blockOff: number[] = []; private blockLen: number[] = []; private blockRaw: number[] = [];
  private blockHashLo: number[] = []; private blockHashHi: number[] = [];
  private nBlocks = 0;
  // page table
  // page table: 4 words per page (hash lo, hash hi, block, offset), as the index stores it
  private pt = new U32Vec();
  private byHash = new PageIndex(this.pt);
  // The page path lives in one shared Wasm memory (lib/archive-mt.ts): pages are staged,
  // hashed, put into ring blocks and packed there by this thread's and the workers'
  // instances of core-mt.wasm; JavaScript never copies them. It never grows: views stay valid.
  private memory = mtMemory();
  private mt = mtInstance(this.memory, 0);
  private shared = new Uint8Array(this.memory.buffer);
  private ringU8 = this.shared.subarray(RING, RING + RING_SLOTS * BLOCK_BYTES);
  private outU8 = this.shared.subarray(OUT, OUT + RING_SLOTS * OUT_SLOT);
  /** the hash (lo, hi) of each page in the ring, slot by slot: page blocks are page-hashed */
  private slotH = new Uint32Array(this.memory.buffer, SLOT_HASHES, RING_SLOTS * BLOCK_PAGES * 2);
  private fileS = new Scratch();   // staged pages copied into the core for a kind 1 file hash
  private fhS = new Scratch();     // page hashes in file order (kind 2 file hash)
  private slotBlock = new Int32Array(RING_SLOTS).fill(-1);
  private slotBusy = new Uint8Array(RING_SLOTS);
  private slotDone: (Promise<void> | null)[] = new Array(RING_SLOTS).fill(null); // the batch that frees a busy slot
  private blockSlot = new Map<number, number>();
  private nextSlot = 0;
  private pageSlot = 0;
  private pageFill = 0;
  private pageBlock = -1;
  private byteBuf = new Uint8Array(BYTES_BLOCK);
  private byteFill = 0;
  private byteBlock = -1;
  private rawCache = new Map<number, Uint8Array>();
  private pending: Promise<void> = Promise.resolve();
  private window: Promise<void>[] = [];
  // full page blocks waiting to be sent to the pool as one batch: ids, ring slots, raw lengths
  private qIds: number[] = []; private qSlots: number[] = []; private qLens: number[] = [];
  // (packed blocks come back in the shared output ring, same slot numbers: outU8)
  // early writeback: an fdatasync in the background every SYNC_EVERY bytes written
  private synced = HEADER_SIZE;
  private syncing: Promise<void> | null = null;
  private pool: CompressPool | null;
  /** page blocks this thread packed while the workers were behind (see flushPages) */
  packedHere = 0;
  private parent: PageSource | null = null;
  /** parent page id -> our page-table id + 1 (0: not referenced yet) */
  private parentIds: Int32Array | null = null;
  private readonly level: number;
  private finished = false;
  /** pages announced so far by pages(..., {expect}); -1 when nothing was announced (convert) */
  private expected = -1;
  readonly stats: ArchiveStats = { files: 0, pageFiles: 0, pages: 0, zeroPages: 0, dupPages: 0, parentPages: 0, storedPages: 0, rawBytes: 0, archiveBytes: 0, blocks: 0 };

  private constructor(readonly path: string, private opts: WriterOptions) {
    this.level = opts.level ?? 1;
    if (opts.parent) this.parent = openPageSource(resolve(opts.parent));
    try {
      this.fd = openSync(path, 'w+', 0o600);
    } catch (e) { throw ioError(e, path, 'cannot create the archive'); }
    const h = Buffer.alloc(HEADER_SIZE);
    h.write(MAGIC, 0, 'latin1');
    h.writeUInt32LE(FORMAT_VERSION, 8);
    h.writeUInt32LE(this.parent ? 1 : 0, 12);
    h.writeUInt32LE(PAGE, 16);
    writeAll(this.fd, h, 0);
    this.whole.update(h);
    this.pool = null; // started when the first page block is full (see flushPages)
  }

  static create(path: string, opts: WriterOptions = {}): ArchiveWriter {
    return new ArchiveWriter(path, opts);
  }

  /**
   * Start the compression workers (opts.workers) now if they are not running yet, and if
   * `bytes` (what the caller expects to write; unknown by default) reach WORKERS_MIN_BYTES.
   * They start by themselves when the first page block is full and enough pages are coming;
   * a big dump starts them before it freezes the tree, because they take 30-70 ms to come up
   * and pack their first blocks, and the freeze and the metadata collection hide that.
   */
  startWorkers(bytes = Infinity): void {
    if (bytes < WORKERS_MIN_BYTES) return;
    if (!this.pool && !this.finished && (this.opts.workers ?? 0) > 0) this.pool = new CompressPool(this.opts.workers!, this.memory);
  }

  // ---- blocks

  private newBlock(): number { return this.nBlocks++; }

  private cacheRaw(id: number, raw: Uint8Array): void {
    if (this.rawCache.size >= 64) this.rawCache.delete(this.rawCache.keys().next().value!);
    this.rawCache.set(id, raw);
  }

  /** Pack a (small) block here and append it to the file, in block order. */
  private async emitBlock(id: number, raw: Uint8Array): Promise<void> {
    const b = packBlock(raw, this.level);
    this.cacheRaw(id, raw);
    await this.pending;
    this.recordBlock(id, b, raw.length);
  }

  private recordBlock(id: number, b: Uint8Array, rawLen: number, written = false): void {
    if (!written) writeAll(this.fd, b, this.pos);
    this.whole.update(b.subarray(0, BLOCK_HEADER));
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.blockOff[id] = this.pos; this.blockLen[id] = b.length; this.blockRaw[id] = rawLen;
    this.blockHashLo[id] = dv.getUint32(16, true); this.blockHashHi[id] = dv.getUint32(20, true);
    this.pos += b.length;
  }

  /** Open a page block in the next ring slot (waiting for the worker that still packs it). */
  private async openPageBlock(): Promise<void> {
    const slot = this.nextSlot++ % RING_SLOTS;
    await this.waitSlot(slot);
    if (this.slotBlock[slot] >= 0) this.blockSlot.delete(this.slotBlock[slot]);
    this.pageBlock = this.newBlock();
    this.pageSlot = slot;
    this.pageFill = 0;
    this.slotBlock[slot] = this.pageBlock;
    this.blockSlot.set(this.pageBlock, slot);
  }

  private async flushPages(): Promise<void> {
    if (this.pageBlock < 0) return;
    const id = this.pageBlock, slot = this.pageSlot, n = this.pageFill;
    this.pageBlock = -1; this.pageFill = 0;
    // The compression workers start when the first block is full and enough pages are coming
    // (WORKERS_MIN_BYTES), unless a big dump started them before its freeze.
    if (n === BLOCK_BYTES) this.startWorkers(this.expected < 0 ? Infinity : this.expected * PAGE);
    if (this.pool && !(this.qIds.length === 0 && this.pool.queued() >= 2 * this.pool.size)) {
      this.slotBusy[slot] = 1;
      this.qIds.push(id); this.qSlots.push(slot); this.qLens.push(n);
      if (this.qIds.length >= BATCH_BLOCKS) {
        this.dispatch();
        // Keep a few batches in flight per worker; wait for the oldest only.
        if (this.window.length > this.pool.size * 3) await this.window.shift();
      }
      return;
    }
    // No workers, or every worker has two batches queued: pack the block on this thread rather
    // than wait for them (its pages are still in this core's cache, and no message goes back and
    // forth); it is written after the batches sent before it, so the archive's bytes are the
    // same whoever packs which block. With it a 1.14 GiB dump took 1.08-1.13 s instead of 1.13-1.20.
    const out = slot * OUT_SLOT;
    const len = packSlot(this.mt, slot, n, this.level, true);
    if (!this.pool) {
      await this.pending;
      this.recordBlock(id, this.outU8.subarray(out, out + len), n);
      return;
    }
    this.slotBusy[slot] = 1;
    this.packedHere++;
    const done = this.pending.then(() => {
      this.recordBlock(id, this.outU8.subarray(out, out + len), n);
      this.slotBusy[slot] = 0;
    });
    this.pending = done;
    this.slotDone[slot] = done;
  }

  /** Send the queued page blocks to the pool as one batch; they are written in order when packed. */
  private dispatch(): void {
    if (!this.pool || this.qIds.length === 0) return;
    const ids = this.qIds, slots = this.qSlots, lens = this.qLens;
    this.qIds = []; this.qSlots = []; this.qLens = [];
    const packed = this.pool.pack(slots, lens, this.level, true);
    const done = this.pending.then(async () => {
      const got = await packed;
      const views: Uint8Array[] = [];
      for (let k = 0; k < ids.length; k++) {
        const b = slots[k] * OUT_SLOT;
        views.push(this.outU8.subarray(b, b + got[k]));
      }
      // one writev for the batch, then the block table (a short write falls back to plain writes)
      let w = 0;
      try { w = writevSync(this.fd, views, this.pos); } catch (e) { throw ioError(e, this.path, 'cannot write the archive'); }
      let at = 0;
      for (let k = 0; k < ids.length; k++) {
        const v = views[k];
        if (at + v.length > w) writeAll(this.fd, v.subarray(Math.max(0, w - at)), this.pos + Math.max(0, w - at));
        at += v.length;
        this.recordBlock(ids[k], v, lens[k], true);
        this.slotBusy[slots[k]] = 0;
      }
      this.writeback();
    });
    this.pending = done;
    this.window.push(done);
    for (const sl of slots) this.slotDone[sl] = done;
  }

  /** Wait until ring slot s is free (its block packed and written), and no longer. */
  private async waitSlot(s: number): Promise<void> {
    if (!this.slotBusy[s]) return;
    if (this.qSlots.includes(s)) this.dispatch();
    await this.slotDone[s];
  }

  /** Start writing the archive to disk in the background (fdatasync on the thread pool) every SYNC_EVERY bytes. */
  private writeback(): void {
    if (this.syncing || this.pos - this.synced < SYNC_EVERY || this.fd < 0 || this.opts.sync === false) return;
    this.synced = this.pos;
    this.syncing = new Promise((res) => fdatasync(this.fd, () => { this.syncing = null; res(); }));
  }

  private async flushBytes(): Promise<void> {
    if (this.byteBlock < 0) return;
    const raw = this.byteBuf.slice(0, this.byteFill);
    const id = this.byteBlock;
    this.byteBlock = -1; this.byteFill = 0;
    await this.emitBlock(id, raw);
  }

  /** Raw bytes of one of our blocks (cache, or read back from the file). */
  private async ownBlock(id: number): Promise<Uint8Array> {
    let c = this.rawCache.get(id);
    if (c) return c;
    await this.pending;
    c = this.rawCache.get(id);
    if (c) return c;
    const off = this.blockOff[id];
    const raw = unpackBlock(readAt(this.fd, this.blockLen[id], off), this.blockRaw[id]);
    if (!(raw instanceof Uint8Array)) throw new TscrError('E_IO', `block ${id} read back from ${this.path} is bad: ${UNPACK_ERRORS[raw.code]}`, { file: this.path, offset: off });
    this.cacheRaw(id, raw);
    return raw;
  }

  /** Does page `id` hold exactly the bytes at address p of the shared memory? */
  private async samePage(id: number, p: number): Promise<boolean> {
    const blk = this.pt.a[4 * id + 2], off = this.pt.a[4 * id + 3];
    let other: Uint8Array;
    const slot = this.blockSlot.get(blk);
    if (blk === IN_PARENT) other = this.parent!.pageById(off);
    else if (slot !== undefined) { const b = slot * BLOCK_BYTES + off; other = this.ringU8.subarray(b, b + PAGE); }
    else other = (await this.ownBlock(blk)).subarray(off, off + PAGE);
    return bytesEqual(other, this.shared.subarray(p, p + PAGE));
  }

  // ---- pages

  /** Our page-table id for page `pid` of the parent (one entry per parent page). */
  private parentRef(pid: number, lo: number, hi: number, index: boolean): number {
    const m = this.parentIds ??= new Int32Array(this.parent!.pageCount);
    if (!(pid >= 0 && pid < m.length)) throw new TscrError('E_CORRUPT', `page ${pid} is not in ${this.parent!.path}`, { file: this.parent!.path });
    if (m[pid]) return m[pid] - 1;
    const id = this.addPageEntry(lo, hi, IN_PARENT, pid, index);
    m[pid] = id + 1;
    return id;
  }

  private addPageEntry(lo: number, hi: number, block: number, off: number, index = true): number {
    const id = this.pt.n >>> 2;
    this.pt.push(lo); this.pt.push(hi); this.pt.push(block); this.pt.push(off);
    if (index) this.byHash.add(id);
    return id;
  }

  /** A page of this archive with the hash (lo, hi) and exactly the bytes at Wasm address p, or -1. */
  private async findOwn(lo: number, hi: number, p: number): Promise<number> {
    const t = this.byHash;
    let i = t.start(lo, hi);
    for (;;) {
      const id = t.next(lo, hi, i);
      if (id < 0) return -1;
      i = t.at;
      if (await this.samePage(id, p)) return id;
      i = (i + 1) & t.mask;
    }
  }

  /** @internal */
  async addPageRunWith(rec: FileRec, maxPages: number, fill: (view: Uint8Array) => number, stream: number): Promise<number> {
    const { addr, pages } = await this.directRoom(maxPages);
    const n = fill(this.shared.subarray(addr, addr + pages * PAGE));
    if (!(Number.isInteger(n) && n >= 0 && n <= pages)) throw new TscrError('E_INTERNAL', `page reader returned ${n} pages (at most ${pages})`);
    if (n) await this.addStaged(rec, n, stream, addr);
    return n;
  }

  /**
   * Where a page reader can put up to maxPages pages so that they already sit where placeRun
   * keeps them: from the open block's fill position (or the next slot) on, in ring slots that
   * are free now (it waits only when the very next slot is still being packed), up to the
   * ring's end. placeRun then moves nothing, unless zero or duplicate pages drop out (the rest
   * is moved down, never onto pages not yet looked at). Returns the address and the room (>= 1).
   */
  private async directRoom(maxPages: number): Promise<{ addr: number; pages: number }> {
    const open = this.pageBlock >= 0;
    const slot = open ? this.pageSlot : this.nextSlot % RING_SLOTS;
    const fill = open ? this.pageFill / PAGE : 0;
    let pages = Math.min(maxPages, (RING_SLOTS - slot) * BLOCK_PAGES - fill);
    const last = slot + Math.ceil((fill + pages) / BLOCK_PAGES) - 1;
    const first = open ? slot + 1 : slot;
    if (!open) await this.waitSlot(slot);
    let end = first;
    while (end <= last && !this.slotBusy[end]) {
      // the block this slot held is compared against from the file from now on
      if (this.slotBlock[end] >= 0) { this.blockSlot.delete(this.slotBlock[end]); this.slotBlock[end] = -1; }
      end++;
    }
    pages = Math.min(pages, (end - slot) * BLOCK_PAGES - fill);
    return { addr: RING + slot * BLOCK_BYTES + fill * PAGE, pages };
  }

  /** @internal */
  async addPageRun(rec: FileRec, run: Uint8Array, stream: number): Promise<void> {
    this.shared.set(run, STAGE);
    await this.addStaged(rec, run.length / PAGE, stream);
  }

  /**
   * @internal See PagesSink.writeBatch; returns the number of pages added. The read pages are
   * hashed in one call; parent pages are only looked up (their hash is in the parent's index);
   * the file hash (kind 2) goes over all page hashes in file order.
   */
  async addBatch(rec: FileRec, readPages: number, fill: (view: Uint8Array) => void, segs: (number | ArrayLike<number>)[], stream: number): Promise<number> {
    if (!(readPages >= 0 && readPages <= STAGE_PAGES)) throw new TscrError('E_INTERNAL', `a batch of ${readPages} pages to read (at most ${STAGE_PAGES})`);
    if (!this.parent && segs.some((sg) => typeof sg !== 'number' && sg.length)) throw new TscrError('E_INTERNAL', 'pages from a parent, but the archive has none');
    const ex = core();
    let h32 = new Uint32Array(0), zero = new Uint8Array(0);
    if (readPages) {
      fill(this.shared.subarray(STAGE, STAGE + readPages * PAGE));
      ({ h32, zero } = this.hashStaged(readPages));
    }
    let total = 0;
    for (const sg of segs) total += typeof sg === 'number' ? sg : sg.length;
    const fh = new Uint32Array(total * 2); // page hashes in file order (0 for a zero page)
    const refs = rec.refs!;
    let at = 0, fo = 0;
    for (const sg of segs) {
      if (typeof sg === 'number') {
        if (at + sg > readPages) throw new TscrError('E_INTERNAL', 'a batch uses more pages than it read');
        for (let i = at; i < at + sg; i++, fo++) { fh[2 * fo] = h32[2 * i]; fh[2 * fo + 1] = h32[2 * i + 1]; }
        await this.placeRun(refs, STAGE, h32, zero, at, at + sg);
        at += sg;
        continue;
      }
      for (let i = 0; i < sg.length; i++, fo++) {
        const pid = sg[i];
        const h = pid >= 0 ? this.parent!.pageHash(pid) : null;
        if (!h) { refs.push(0); this.stats.zeroPages++; continue; }
        fh[2 * fo] = h[0]; fh[2 * fo + 1] = h[1];
        // not indexed by hash: a later equal page finds it through the parent, then parentIds
        refs.push(this.parentRef(pid, h[0], h[1], false) + 1);
        this.stats.parentPages++;
      }
    }
    this.stats.pages += total;
    if (total) ex.xxh_update(stream, this.fhS.put(new Uint8Array(fh.buffer)), 0, total * 8);
    return total;
  }

  /** Page hashes and zero flags of the n pages at `at` (copied out of the shared memory). */
  private hashStaged(n: number, at = STAGE): { h32: Uint32Array; zero: Uint8Array } {
    this.mt.xxh_pages(at, 0, n, HASHES, HASHES + n * 8);
    return { h32: new Uint32Array(this.shared.slice(HASHES, HASHES + n * 8).buffer), zero: this.shared.slice(HASHES + n * 8, HASHES + n * 9) };
  }

  /** The n pages at `at` (the staging area, or in place in the ring): file hash, page hashes, dedup, into blocks. */
  private async addStaged(rec: FileRec, n: number, stream: number, at = STAGE): Promise<void> {
    const ex = core();
    const { h32, zero } = this.hashStaged(n, at);
    // kind 2 hashes the page hashes; kind 1 the bytes (a copy into the core: convert, not dumps)
    if (rec.kind === KIND_PAGES_PH) ex.xxh_update(stream, this.fhS.put(new Uint8Array(h32.buffer)), 0, n * 8);
    else ex.xxh_update(stream, this.fileS.put(this.shared.subarray(at, at + n * PAGE)), 0, n * PAGE);
    this.stats.pages += n;
    await this.placeRun(rec.refs!, at, h32, zero, 0, n);
  }

  /** (keeps placeRun's touching loop from being optimized away) */
  private touched = 0;

  /**
   * Pages from..to-1 of the staged pages at address inP of the shared memory (hashes h32, zero
   * flags) into the store: zero, duplicate, in the parent, or stored. New pages go into the
   * open block; consecutive ones are copied into the ring in one go (a memmove in Wasm).
   */
  private async placeRun(refs: U32Vec, inP: number, h32: Uint32Array, zero: Uint8Array, from: number, to: number): Promise<void> {
    const st = this.stats;
    let runFrom = 0, runPages = 0, runDst = 0;
    const copyRun = (): void => {
      // (pages read straight into the ring are in place until one drops out)
      if (runPages && RING + runDst !== inP + runFrom * PAGE) this.mt.mt_copy(RING + runDst, inP + runFrom * PAGE, runPages * PAGE);
      runPages = 0;
    };
    // Touch each page's first probe slot before the loop below: these loads do not depend on each
    // other, so the CPU has many of the table's cache misses in flight at once, where the loop
    // (one page after the other) would wait for each in turn.
    const t = this.byHash, slots = t.slots;
    let touched = 0;
    for (let i = from; i < to; i++) touched |= slots[t.start(h32[2 * i], h32[2 * i + 1])];
    this.touched = touched;
    for (let i = from; i < to; i++) {
      if (zero[i]) { refs.push(0); st.zeroPages++; continue; }
      const lo = h32[2 * i], hi = h32[2 * i + 1];
      const p = inP + i * PAGE;
      if (this.byHash.next(lo, hi, this.byHash.start(lo, hi)) >= 0) {
        copyRun();  // the comparison may look at ring blocks
        const found = await this.findOwn(lo, hi, p);
        if (found >= 0) { refs.push(found + 1); st.dupPages++; continue; }
      }
      if (this.parent) {
        copyRun();
        const pid = await this.parent.findPage(lo, hi, this.shared.slice(p, p + PAGE));
        if (pid >= 0) {
          refs.push(this.parentRef(pid, lo, hi, true) + 1);
          st.parentPages++;
          continue;
        }
      }
      if (this.pageBlock < 0) { copyRun(); await this.openPageBlock(); }
      const dst = this.pageSlot * BLOCK_BYTES + this.pageFill;
      if (runPages && (runFrom + runPages !== i || runDst + runPages * PAGE !== dst)) copyRun();
      if (!runPages) { runFrom = i; runDst = dst; }
      runPages++;
      const id = this.addPageEntry(lo, hi, this.pageBlock, this.pageFill);
      const hp = 2 * (this.pageSlot * BLOCK_PAGES + this.pageFill / PAGE);
      this.slotH[hp] = lo; this.slotH[hp + 1] = hi;
      this.pageFill += PAGE;
      refs.push(id + 1);
      st.storedPages++;
      if (this.pageFill === BLOCK_BYTES) { copyRun(); await this.flushPages(); }
    }
    copyRun();
  }

  /**
   * Start a pages image (pages-N.img); feed it with write() then end(). o.expect: how many
   * pages are coming (tables are sized for them once, not grown step by step).
   */
  pages(name: string, mode = 0o600, o: { pageHashes?: boolean; expect?: number } = {}): PagesSink {
    this.checkName(name);
    const refs = new U32Vec();
    if (o.expect && o.expect > 0 && o.expect < 2 ** 28) {
      this.expected = Math.max(0, this.expected) + o.expect;
      refs.reserve(o.expect); this.pt.reserve(4 * o.expect); this.byHash.reserve(o.expect);
    }
    this.stats.pageFiles++;
    this.stats.files++;
    return new PagesSink(this, { name, mode, kind: o.pageHashes ? KIND_PAGES_PH : KIND_PAGES, size: 0, hash: 0n, refs });
  }

  private checkName(name: string): void {
    if (!name || name.includes('/') || name === '.' || name === '..' || Buffer.byteLength(name) > 4096) {
      throw new TscrError('E_USAGE', `cannot store "${name}" in an archive: image names are plain file names`);
    }
    if (this.files.some((f) => f.name === name)) throw new TscrError('E_USAGE', `"${name}" is already in the archive`);
    if (this.finished) throw new TscrError('E_INTERNAL', 'archive already finished');
  }

  /** Store a file verbatim (CRIU metadata images and anything that is not raw pages). */
  async addBytes(name: string, data: Uint8Array, mode = 0o600): Promise<void> {
    this.checkName(name);
    const rec: FileRec = { name, mode, kind: KIND_BYTES, size: data.length, hash: xxh64(data), chunks: new U32Vec() };
    await this.appendBytes(rec, data);
    this.files.push(rec);
    this.stats.files++;
    this.stats.rawBytes += data.length;
  }

  /** Append data to byte file rec: into the open byte block, chunk by chunk, flushing full blocks. */
  private async appendBytes(rec: FileRec, data: Uint8Array): Promise<void> {
    let o = 0;
    while (o < data.length) {
      if (this.byteBlock < 0) this.byteBlock = this.newBlock();
      const k = Math.min(data.length - o, BYTES_BLOCK - this.byteFill);
      this.byteBuf.set(data.subarray(o, o + k), this.byteFill);
      rec.chunks!.push(this.byteBlock); rec.chunks!.push(this.byteFill); rec.chunks!.push(k);
      this.byteFill += k; o += k;
      if (this.byteFill === BYTES_BLOCK) await this.flushBytes();
    }
  }

  /** Store a file from disk: pages-N.img of whole pages go to the page store, the rest verbatim. Streams. */
  async addFileFrom(name: string, path: string): Promise<void> {
    let fd: number;
    try { fd = openSync(path, 'r'); } catch (e) { throw ioError(e, path, 'cannot read the image'); }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new TscrError('E_UNSUPPORTED', `${path} is not a regular file`, { file: path });
      const mode = st.mode & 0o7777;
      if (isPagesImage(name, st.size)) {
        const sink = this.pages(name, mode);
        const CH = 4 << 20;
        for (let pos = 0; pos < st.size; pos += CH) {
          const b = readAt(fd, Math.min(CH, st.size - pos), pos);
          if (b.length % PAGE) throw new TscrError('E_IO', `${path} changed while it was read`, { file: path, offset: pos + b.length });
          await sink.write(b);
        }
        await sink.end();
      } else if (st.size <= 64 << 20) {
        await this.addBytes(name, readAt(fd, st.size, 0), mode);
      } else {
        // Large non-page file: stream it in chunks into byte blocks.
        this.checkName(name);
        const rec: FileRec = { name, mode, kind: KIND_BYTES, size: st.size, hash: 0n, chunks: new U32Vec() };
        const hs = new Xxh64Stream();
        const CH = 4 << 20;
        for (let pos = 0; pos < st.size; pos += CH) {
          const data = readAt(fd, Math.min(CH, st.size - pos), pos);
          hs.update(data);
          await this.appendBytes(rec, data);
        }
        rec.hash = hs.digest(); hs.free();
        this.files.push(rec);
        this.stats.files++;
        this.stats.rawBytes += st.size;
      }
    } finally { closeSync(fd); }
  }

  /** Write the index and the trailer; close the file. */
  async finish(): Promise<ArchiveStats> {
    await this.flushPages();
    this.dispatch();
    await this.flushBytes();
    await this.pending;
    this.finished = true;
    const ix = new Out();
    // room for all of it at once (block table, page table, files; names are short)
    let est = 4096 + this.nBlocks * 24 + this.pt.n * 4;
    for (const f of this.files) est += 64 + f.name.length * 4 + (f.kind === KIND_BYTES ? f.chunks! : f.refs!).n * 4;
    ix.room(est);
    ix.u32(INDEX_MAGIC); ix.u32(FORMAT_VERSION);
    if (this.parent) {
      const rel = relative(dirname(resolve(this.path)), this.parent.path) || this.parent.path;
      ix.str(rel); ix.u64(this.parent.wholeHash);
    } else { ix.str(''); ix.u64(0); }
    const nb = this.nBlocks;
    ix.u32(nb);
    // the block table, 6 words per block (offset as u64, stored and raw lengths, hash), in one typed array
    const bt = new Uint32Array(nb * 6);
    for (let i = 0, j = 0; i < nb; i++, j += 6) {
      if (this.blockLen[i] === undefined) throw new TscrError('E_INTERNAL', `archive block ${i} was never written`);
      const off = this.blockOff[i];
      bt[j] = off >>> 0; bt[j + 1] = Math.floor(off / 0x100000000);
      bt[j + 2] = this.blockLen[i]; bt[j + 3] = this.blockRaw[i];
      bt[j + 4] = this.blockHashLo[i]; bt[j + 5] = this.blockHashHi[i];
    }
    ix.u32s(bt);
    // the page table by column: hashes, then blocks, then offsets (the hashes do not compress,
    // the other two columns nearly vanish; interleaved, the index packed to 86% of its size)
    const np = this.pt.n >>> 2, P = this.pt.a;
    ix.u32(np);
    const col = new Uint32Array(np * 4);
    for (let i = 0, b = 2 * np, o = 3 * np; i < np; i++) {
      col[2 * i] = P[4 * i]; col[2 * i + 1] = P[4 * i + 1]; col[b + i] = P[4 * i + 2]; col[o + i] = P[4 * i + 3];
    }
    ix.u32s(col);
    ix.u32(this.files.length);
    for (const f of this.files) {
      ix.str(f.name); ix.u32(f.mode); ix.u8(f.kind); ix.u64(f.size); ix.u64(f.hash);
      if (f.kind === KIND_BYTES) { ix.u32(f.chunks!.n); ix.u32s(f.chunks!.view()); continue; }
      // page refs as differences from the ref before (mod 2^32): mostly 1, which packs to nearly nothing
      const v = f.refs!.view(), d = new Uint32Array(v.length);
      for (let i = 0, prev = 0; i < v.length; i++) { d[i] = (v[i] - prev) >>> 0; prev = v[i]; }
      ix.u32(d.length); ix.u32s(d);
    }
    const index = ix.done();
    const indexStart = this.pos;
    const indexBlocks = await this.packIndex(index);
    for (const b of indexBlocks) {
      writeAll(this.fd, b, this.pos);
      this.whole.update(b.subarray(0, BLOCK_HEADER));
      this.pos += b.length;
    }
    const nIndexBlocks = indexBlocks.length;
    // the workers are done: stopping them takes ~4 ms, which nothing needs to wait for
    if (this.pool) { this.pool.close().catch(() => { /* exiting anyway */ }); this.pool = null; }
    const t = Buffer.alloc(TRAILER_SIZE);
    t.write(TRAILER_MAGIC, 0, 'latin1');
    t.writeBigUInt64LE(BigInt(indexStart), 8);
    t.writeBigUInt64LE(BigInt(nIndexBlocks), 16);
    t.writeBigUInt64LE(this.whole.digest(), 24);
    t.writeBigUInt64LE(BigInt(index.length), 32);
    t.writeBigUInt64LE(xxh64(t.subarray(0, 40)), 40);
    writeAll(this.fd, t, this.pos);
    this.pos += TRAILER_SIZE;
    this.whole.free();
    this.freeScratch();
    if (this.syncing) await this.syncing;
    closeSync(this.fd);
    this.fd = -1;
    this.stats.blocks = nb;
    this.stats.archiveBytes = this.pos;
    this.parent?.close();
    return this.stats;
  }

  /**
   * The index as packed blocks (LZ4 at INDEX_LEVEL) of BLOCK_BYTES each (the reader takes pieces of
   * any size up to INDEX_CHUNK; the same pieces with or without workers, so the archive's
   * bytes do not depend on them). With workers, they pack the pieces in parallel: their
   * compressor is warm, on this thread it would run cold (~3x slower).
   */
  private async packIndex(index: Uint8Array): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    // (a small index is packed here at once: the workers may not even have started up yet)
    if (!this.pool || index.length <= 4 * BLOCK_BYTES) {
      for (let o = 0; o < index.length || out.length === 0; o += BLOCK_BYTES) out.push(packBlock(index.subarray(o, Math.min(index.length, o + BLOCK_BYTES)), INDEX_LEVEL));
      return out;
    }
    // every slot is free: the page blocks are all written
    for (let o = 0; o < index.length; o += RING_SLOTS * BLOCK_BYTES) {
      const slots: number[][] = [], lens: number[][] = [];
      for (let i = 0; i < this.pool.size; i++) { slots.push([]); lens.push([]); }
      let k = 0;
      for (let p = o; p < index.length && k < RING_SLOTS; p += BLOCK_BYTES, k++) {
        const piece = index.subarray(p, Math.min(index.length, p + BLOCK_BYTES));
        this.ringU8.set(piece, k * BLOCK_BYTES);
        slots[k % this.pool.size].push(k); lens[k % this.pool.size].push(piece.length);
      }
      const got = await Promise.all(slots.map((sl, i) => sl.length ? this.pool!.pack(sl, lens[i], INDEX_LEVEL, false) : Promise.resolve(new Int32Array(0))));
      for (let j = 0; j < k; j++) {
        const len = got[j % this.pool.size][Math.floor(j / this.pool.size)];
        out.push(this.outU8.slice(j * OUT_SLOT, j * OUT_SLOT + len));
      }
    }
    return out;
  }

  private freeScratch(): void { this.fileS.free(); this.fhS.free(); }

  /** Give up: close and remove the partial archive. */
  async abort(): Promise<void> {
    this.freeScratch();
    try { await this.pending; } catch { /* the first error is already on its way */ }
    if (this.pool) { await this.pool.close().catch(() => {}); this.pool = null; }
    if (this.syncing) await this.syncing;
    if (this.fd >= 0) { closeSync(this.fd); this.fd = -1; }
    try { unlinkSync(this.path); } catch { /* gone already */ }
    this.parent?.close();
  }
}

// ---------------------------------------------------------------- reader

export interface ArchiveInfo {
  path: string;
  version: number;
  size: number;
  wholeHash: string;
  parent: string | null;
  blocks: number;
  pages: number;
  files: { name: string; kind: 'bytes' | 'pages'; size: number; hash: string }[];
}

export class ArchiveReader implements PageSource {
  private fd: number;
  readonly size: number;
  readonly wholeHash: bigint;
  readonly parentPath: string | null;
  readonly parentHash: bigint;
  /** The archive's format version (1 or 2). */
  readonly version: number = FORMAT_VERSION;
  private indexStart: number;
  private bOff!: Float64Array; private bLen!: Uint32Array; private bRaw!: Uint32Array; private bHash!: Uint32Array;
  private indexHeaders: Buffer[] = [];
  private pHash!: Uint32Array; private pBlock!: Uint32Array; private pOff!: Uint32Array;
  private byKey: Map<number, number | number[]> | null = null;
  readonly files = new Map<string, FileEntry>();
  private cache = new Map<number, Uint8Array>();
  private parent: PageSource | null = null;
  private verified = false;

  private constructor(readonly path: string) {
    try { this.fd = openSync(path, 'r'); } catch (e) { throw ioError(e, path, 'cannot open the archive'); }
    try {
      this.size = fstatSync(this.fd).size;
      const h = readAt(this.fd, Math.min(HEADER_SIZE, this.size), 0);
      if (h.length < 8 || h.toString('latin1', 0, 8) !== MAGIC) {
        throw new TscrError('E_BAD_MAGIC', `${path} is not a tscr archive (no ${MAGIC} header)`, { file: path, offset: 0, hint: 'give a tscr archive, or a CRIU image directory' });
      }
      if (this.size < HEADER_SIZE + TRAILER_SIZE) {
        throw new TscrError('E_TRUNCATED', `archive is truncated: ${this.size} bytes, too short to hold a header and a trailer`, { file: path, offset: this.size, hint: HINT_DAMAGED });
      }
      const version = h.readUInt32LE(8);
      if (!(version >= OLDEST_VERSION && version <= FORMAT_VERSION)) {
        throw new TscrError('E_UNSUPPORTED', `archive format version ${version} is not supported (this tscr reads versions ${OLDEST_VERSION} to ${FORMAT_VERSION})`,
          { file: path, offset: 8, hint: version > FORMAT_VERSION ? 'the archive was written by a newer tscr: read it with that one' : undefined });
      }
      this.version = version;
      const tOff = this.size - TRAILER_SIZE;
      const t = readAt(this.fd, TRAILER_SIZE, tOff);
      if (t.toString('latin1', 0, 8) !== TRAILER_MAGIC) {
        throw new TscrError('E_TRUNCATED', `archive is truncated or damaged: no trailer at its end (offset ${tOff})`, { file: path, offset: tOff, hint: HINT_DAMAGED });
      }
      if (t.readBigUInt64LE(40) !== xxh64(t.subarray(0, 40))) {
        throw new TscrError('E_CORRUPT', 'archive trailer hash does not match', { file: path, offset: tOff, kind: 'archive trailer', hint: HINT_DAMAGED });
      }
      this.indexStart = Number(t.readBigUInt64LE(8));
      const nIndex = Number(t.readBigUInt64LE(16));
      this.wholeHash = t.readBigUInt64LE(24);
      const indexLen = Number(t.readBigUInt64LE(32));
      if (!(this.indexStart >= HEADER_SIZE && this.indexStart < tOff && nIndex >= 1 && indexLen < 2 ** 40)) {
        throw new TscrError('E_CORRUPT', 'archive trailer points outside the file', { file: path, offset: tOff, kind: 'archive trailer', hint: HINT_DAMAGED });
      }
      // Index blocks, one after the other up to the trailer.
      const parts: Uint8Array[] = [];
      let pos = this.indexStart;
      for (let i = 0; i < nIndex; i++) {
        const hdr = readAt(this.fd, BLOCK_HEADER, pos);
        if (hdr.length < BLOCK_HEADER || pos + BLOCK_HEADER > tOff) throw new TscrError('E_TRUNCATED', 'archive index ends early', { file: path, offset: pos, hint: HINT_DAMAGED });
        const len = BLOCK_HEADER + hdr.readUInt32LE(12);
        const raw = hdr.readUInt32LE(8);
        if (pos + len > tOff || raw > INDEX_CHUNK) throw new TscrError('E_CORRUPT', 'archive index block runs past the trailer', { file: path, offset: pos, kind: 'archive index', hint: HINT_DAMAGED });
        parts.push(this.unpackAt(pos, len, raw, 'archive index block'));
        this.indexHeaders.push(hdr);
        pos += len;
      }
      if (pos !== tOff) throw new TscrError('E_CORRUPT', `archive has ${tOff - pos} unexpected bytes between index and trailer`, { file: path, offset: pos, hint: HINT_DAMAGED });
      const index = Buffer.concat(parts);
      if (index.length !== indexLen) throw new TscrError('E_CORRUPT', 'archive index length does not match the trailer', { file: path, offset: this.indexStart, hint: HINT_DAMAGED });
      const r = new In(index, path);
      if (r.u32() !== INDEX_MAGIC) r.bad('index magic');
      if (r.u32() !== version) r.bad(`index version (the header says ${version})`);
      const pp = r.str();
      this.parentHash = r.u64();
      this.parentPath = pp ? (isAbsolute(pp) ? pp : resolve(dirname(resolve(path)), pp)) : null;
      const nb = r.u32();
      r.need(nb * 24);
      this.bOff = new Float64Array(nb); this.bLen = new Uint32Array(nb); this.bRaw = new Uint32Array(nb); this.bHash = new Uint32Array(nb * 2);
      for (let i = 0; i < nb; i++) {
        const off = r.u32() + r.u32() * 0x100000000;
        const len = r.u32(), raw = r.u32();
        this.bHash[2 * i] = r.u32(); this.bHash[2 * i + 1] = r.u32();
        if (off < HEADER_SIZE || off + len > this.indexStart || len < BLOCK_HEADER || raw > 64 << 20) r.bad(`block ${i} (offset ${off}, ${len} bytes) lies outside the data area`);
        this.bOff[i] = off; this.bLen[i] = len; this.bRaw[i] = raw;
      }
      const np = r.u32();
      r.need(np * 16);
      if (version >= 2) {
        // by column: hashes, blocks, offsets
        this.pHash = r.u32s(np * 2); this.pBlock = r.u32s(np); this.pOff = r.u32s(np);
      } else {
        this.pHash = new Uint32Array(np * 2); this.pBlock = new Uint32Array(np); this.pOff = new Uint32Array(np);
        const rows = r.u32s(np * 4);
        for (let i = 0; i < np; i++) {
          this.pHash[2 * i] = rows[4 * i]; this.pHash[2 * i + 1] = rows[4 * i + 1]; this.pBlock[i] = rows[4 * i + 2]; this.pOff[i] = rows[4 * i + 3];
        }
      }
      // an error names the index offset of the page's block number
      const blockAt = (i: number) => (version >= 2 ? r.o - np * 8 + i * 4 : r.o - np * 16 + i * 16 + 8);
      for (let i = 0; i < np; i++) {
        const b = this.pBlock[i], o = this.pOff[i];
        if (b === IN_PARENT) { if (!this.parentPath) { r.o = blockAt(i); r.bad(`page ${i} is in a parent, but the archive has none`); } }
        else if (b >= nb || o + PAGE > this.bRaw[b]) { r.o = blockAt(i); r.bad(`page ${i} points outside block ${b}`); }
      }
      const nf = r.u32();
      for (let i = 0; i < nf; i++) {
        const name = r.str();
        const mode = r.u32(), kind = r.u8(), size = r.num(), hash = r.u64();
        const n = r.u32();
        const v = r.u32s(n);
        if (!name || name.includes('/') || name === '.' || name === '..' || this.files.has(name)) r.bad(`file name "${name}"`);
        if (kind === KIND_PAGES || kind === KIND_PAGES_PH) {
          if (n * PAGE !== size) r.bad(`${name}: ${n} pages for ${size} bytes`);
          if (version >= 2) for (let k = 0, acc = 0; k < n; k++) { acc = (acc + v[k]) >>> 0; v[k] = acc; }
          for (const ref of v) if (ref > np) r.bad(`${name}: page ref ${ref} of ${np}`);
          this.files.set(name, { name, mode, kind: 'pages', size, hash, refs: v, ...(kind === KIND_PAGES_PH ? { pageHashes: true } : {}) });
        } else if (kind === KIND_BYTES) {
          if (n % 3) r.bad(`${name}: chunk list`);
          let total = 0;
          for (let k = 0; k < n; k += 3) {
            if (v[k] >= nb || v[k + 1] + v[k + 2] > this.bRaw[v[k]]) r.bad(`${name}: chunk ${k / 3} points outside block ${v[k]}`);
            total += v[k + 2];
          }
          if (total !== size) r.bad(`${name}: chunks hold ${total} bytes, not ${size}`);
          this.files.set(name, { name, mode, kind: 'bytes', size, hash, chunks: v });
        } else r.bad(`${name}: unknown kind ${kind}`);
      }
      if (r.o !== index.length) r.bad(`${index.length - r.o} trailing bytes`);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  static open(path: string): ArchiveReader { return new ArchiveReader(path); }

  static isArchive(path: string): boolean {
    try {
      if (!statSync(path).isFile()) return false;
      const fd = openSync(path, 'r');
      try { return readAt(fd, 8, 0).toString('latin1') === MAGIC; } finally { closeSync(fd); }
    } catch { return false; }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.parent?.close();
  }

  get blockCount(): number { return this.bLen.length; }
  get pageCount(): number { return this.pBlock.length; }

  private unpackAt(off: number, len: number, raw: number, what: string): Uint8Array {
    return this.unpackBuf(readAt(this.fd, len, off), off, len, raw, what);
  }

  private unpackBuf(b: Buffer, off: number, len: number, raw: number, what: string): Uint8Array {
    if (b.length < len) {
      throw new TscrError('E_TRUNCATED', `${what} at offset ${off} is cut short: ${b.length} of ${len} bytes (truncated store?)`, { file: this.path, offset: off + b.length, hint: HINT_DAMAGED });
    }
    const r = unpackBlock(b, raw);
    if (!(r instanceof Uint8Array)) {
      const where = r.code === -5 ? off + BLOCK_HEADER + r.detail : off;
      throw new TscrError('E_CORRUPT', `${what} at offset ${off} is damaged: ${UNPACK_ERRORS[r.code] ?? `error ${r.code}`}`, { file: this.path, offset: where, kind: 'archive block', hint: HINT_DAMAGED });
    }
    if (r.length !== raw) throw new TscrError('E_CORRUPT', `${what} at offset ${off} holds ${r.length} bytes, the index says ${raw}`, { file: this.path, offset: off, hint: HINT_DAMAGED });
    return r;
  }

  /** Raw bytes of a data block, verified (cached). */
  block(id: number): Uint8Array {
    const c = this.cache.get(id);
    if (c) { this.cache.delete(id); this.cache.set(id, c); return c; }
    const raw = this.unpackAt(this.bOff[id], this.bLen[id], this.bRaw[id], `block ${id}`);
    if (this.cache.size >= 64) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, raw);
    return raw;
  }

  private openParent(): PageSource {
    if (this.parent) return this.parent;
    if (!this.parentPath) throw new TscrError('E_INTERNAL', 'no parent');
    let p: PageSource;
    try { p = openPageSource(this.parentPath); } catch (e) {
      if (e instanceof TscrError && e.code === 'E_NOT_FOUND') throw new TscrError('E_NOT_FOUND', `the parent archive ${this.parentPath} of ${this.path} is missing`, { file: this.parentPath, hint: 'an incremental archive needs its parent beside it; convert it back while the parent is there' });
      throw e;
    }
    if (p.wholeHash !== this.parentHash) {
      p.close();
      throw new TscrError('E_CORRUPT', `the parent archive ${this.parentPath} is not the one ${this.path} was made from (hash ${hex64(p.wholeHash)}, expected ${hex64(this.parentHash)})`, { file: this.parentPath, hint: 'put the original parent archive back' });
    }
    this.parent = p;
    return p;
  }

  /** The 4 KiB of page-table entry `id`. */
  pageById(id: number): Uint8Array {
    if (!(id >= 0 && id < this.pBlock.length)) throw new TscrError('E_CORRUPT', `page ${id} is not in ${this.path}`, { file: this.path });
    const b = this.pBlock[id], o = this.pOff[id];
    if (b === IN_PARENT) return this.openParent().pageById(o);
    return this.block(b).subarray(o, o + PAGE);
  }

  pageHash(id: number): [number, number] | null {
    if (!(id >= 0 && id < this.pBlock.length)) throw new TscrError('E_CORRUPT', `page ${id} is not in ${this.path}`, { file: this.path });
    return [this.pHash[2 * id], this.pHash[2 * id + 1]];
  }

  /** Page id holding exactly these bytes (hash then byte compare), or -1. */
  async findPage(lo: number, hi: number, page: Uint8Array): Promise<number> {
    if (!this.byKey) {
      this.byKey = new Map();
      for (let i = 0; i < this.pBlock.length; i++) {
        const key = (this.pHash[2 * i + 1] >>> 11) * 0x100000000 + this.pHash[2 * i];
        const prev = this.byKey.get(key);
        if (prev === undefined) this.byKey.set(key, i);
        else if (typeof prev === 'number') this.byKey.set(key, [prev, i]);
        else prev.push(i);
      }
    }
    const cand = this.byKey.get((hi >>> 11) * 0x100000000 + lo);
    if (cand === undefined) return -1;
    for (const id of typeof cand === 'number' ? [cand] : cand) {
      if (this.pHash[2 * id] === lo && this.pHash[2 * id + 1] === hi && bytesEqual(this.pageById(id), page)) return id;
    }
    return -1;
  }

  list(): FileEntry[] { return [...this.files.values()]; }

  private entry(name: string): FileEntry {
    const f = this.files.get(name);
    if (!f) throw new TscrError('E_NOT_FOUND', `${name} is not in the archive`, { file: this.path });
    return f;
  }

  /**
   * Check everything before anything is used: the whole-file hash, every block
   * (payload and decoded hashes), every file's hash, and the parent chain.
   * Throws a TscrError naming the file and offset of the first damage.
   */
  verify(onProgress?: (done: number, total: number) => void): void {
    if (this.verified) return;
    const hs = new Xxh64Stream();
    try {
      hs.update(readAt(this.fd, HEADER_SIZE, 0));
      // Every data block, in file order, with no gap or overlap: decoded and checked.
      const order = Array.from(this.bOff.keys()).sort((a, b) => this.bOff[a] - this.bOff[b]);
      let pos = HEADER_SIZE;
      for (const id of order) {
        if (this.bOff[id] !== pos) {
          throw new TscrError('E_CORRUPT', `archive has ${this.bOff[id] > pos ? 'unaccounted bytes' : 'overlapping blocks'} at offset ${pos}`, { file: this.path, offset: pos, hint: HINT_DAMAGED });
        }
        const b = readAt(this.fd, this.bLen[id], pos);
        if (b.length >= 24 && (b.readUInt32LE(16) !== this.bHash[2 * id] || b.readUInt32LE(20) !== this.bHash[2 * id + 1])) {
          throw new TscrError('E_CORRUPT', `block ${id} at offset ${pos} is damaged: its header does not match the index`, { file: this.path, offset: pos, kind: 'archive block', hint: HINT_DAMAGED });
        }
        this.unpackBuf(b, pos, this.bLen[id], this.bRaw[id], `block ${id}`);
        hs.update(b.subarray(0, BLOCK_HEADER));
        pos += this.bLen[id];
        onProgress?.(pos, this.size);
      }
      if (pos !== this.indexStart) throw new TscrError('E_CORRUPT', `archive has unaccounted bytes at offset ${pos}`, { file: this.path, offset: pos, hint: HINT_DAMAGED });
      for (const h of this.indexHeaders) hs.update(h);
      if (hs.digest() !== this.wholeHash) {
        throw new TscrError('E_CORRUPT', 'archive whole-file hash does not match (the archive header or a block header was changed)', { file: this.path, offset: 0, hint: HINT_DAMAGED });
      }
    } finally { hs.free(); }
    if (this.parentPath) this.openParent().verify();
    this.verified = true;
  }

  private forEachPiece(f: FileEntry, fn: (piece: Uint8Array) => void, firstPage = 0, count = -1): void {
    if (f.kind === 'bytes') {
      const c = f.chunks!;
      for (let k = 0; k < c.length; k += 3) fn(this.block(c[k]).subarray(c[k + 1], c[k + 1] + c[k + 2]));
      return;
    }
    const refs = f.refs!;
    const last = count < 0 ? refs.length : Math.min(refs.length, firstPage + count);
    const zero = new Uint8Array(PAGE);
    // Coalesce runs of pages that sit next to each other in one block.
    let i = firstPage;
    while (i < last) {
      const ref = refs[i];
      if (ref === 0) { fn(zero); i++; continue; }
      const id = ref - 1;
      const b = this.pBlock[id];
      if (b === IN_PARENT) { fn(this.pageById(id)); i++; continue; }
      let j = i + 1;
      while (j < last && refs[j] !== 0 && this.pBlock[refs[j] - 1] === b && this.pOff[refs[j] - 1] === this.pOff[id] + (j - i) * PAGE) j++;
      fn(this.block(b).subarray(this.pOff[id], this.pOff[id] + (j - i) * PAGE));
      i = j;
    }
  }

  /** A whole file (use extract/readPages for big ones). */
  readFile(name: string): Uint8Array {
    const f = this.entry(name);
    const out = new Uint8Array(f.size);
    let o = 0;
    this.forEachPiece(f, (p) => { out.set(p, o); o += p.length; });
    return out;
  }

  /** `count` pages of pages image `name`, starting at page `firstPage` (for restore). */
  readPages(name: string, firstPage: number, count: number): Uint8Array {
    const f = this.entry(name);
    if (f.kind !== 'pages') throw new TscrError('E_USAGE', `${name} is not a pages image`, { file: this.path });
    if (firstPage < 0 || count < 0 || firstPage + count > f.refs!.length) {
      throw new TscrError('E_CORRUPT', `pages ${firstPage}..${firstPage + count} are outside ${name} (${f.refs!.length} pages)`, { file: this.path, kind: name });
    }
    const out = new Uint8Array(count * PAGE);
    let o = 0;
    this.forEachPiece(f, (p) => { out.set(p, o); o += p.length; }, firstPage, count);
    return out;
  }

  /** Stream a file into fd (writes at its start); checks the file's hash. */
  extractTo(name: string, fd: number): void {
    const f = this.entry(name);
    const s = new Xxh64Stream();
    let pos = 0;
    const buf = Buffer.allocUnsafe(4 << 20);
    let fill = 0;
    const flush = () => { if (fill) { writeAll(fd, buf.subarray(0, fill), pos); pos += fill; fill = 0; } };
    try {
      this.forEachPiece(f, (p) => {
        if (f.pageHashes) s.update(new Uint8Array(hashPages(p).hashes.buffer));
        else s.update(p);
        if (fill + p.length > buf.length) flush();
        if (p.length > buf.length) { writeAll(fd, p, pos); pos += p.length; return; }
        buf.set(p, fill); fill += p.length;
      });
      flush();
      if (s.digest() !== f.hash) throw new TscrError('E_CORRUPT', `${name} rebuilt from the archive does not match its recorded hash`, { file: this.path, kind: name, hint: HINT_DAMAGED });
    } finally { s.free(); }
  }

  info(): ArchiveInfo {
    return {
      path: this.path, version: this.version, size: this.size, wholeHash: hex64(this.wholeHash),
      parent: this.parentPath, blocks: this.bLen.length, pages: this.pBlock.length,
      files: this.list().map((f) => ({ name: f.name, kind: f.kind, size: f.size, hash: hex64(f.hash) })),
    };
  }
}

// ---------------------------------------------------------------- parents

/** Where an incremental archive finds the pages it does not hold: a tscr archive or a CRIU image directory. */
export interface PageSource {
  readonly path: string;
  /** Identity: an archive's whole-file hash; for a directory, a hash of its pages images. */
  readonly wholeHash: bigint;
  findPage(lo: number, hi: number, page: Uint8Array): Promise<number>;
  pageById(id: number): Uint8Array;
  /** XXH64 of page `id` as [lo, hi], or null for an all-zero page (without reading the page). */
  pageHash(id: number): [number, number] | null;
  /** Number of pages (ids are 0 .. pageCount-1). */
  readonly pageCount: number;
  verify(): void;
  close(): void;
}

export function openPageSource(path: string): PageSource {
  let st;
  try { st = statSync(path); } catch (e) { throw ioError(e, path, 'cannot open the previous checkpoint'); }
  return st.isDirectory() ? new DirSource(path) : ArchiveReader.open(path);
}

/**
 * A CRIU image directory as a parent: its pages-N.img files (sorted by name) form one
 * page space; page ids count through them. Its identity hashes every pages image's
 * name, size and content, so a child refuses a directory whose pages changed.
 */
export class DirSource implements PageSource {
  readonly wholeHash: bigint;
  private fds: number[] = [];
  private starts: number[] = [];
  private hashes: Uint32Array;
  private zero: Uint8Array;
  private byKey = new Map<number, number | number[]>();
  constructor(readonly path: string) {
    const names = imageFiles(path).filter((n) => isPagesImage(n, statSync(join(path, n)).size));
    let total = 0;
    const sizes: number[] = [];
    for (const n of names) { const sz = statSync(join(path, n)).size; sizes.push(sz); this.starts.push(total); total += sz / PAGE; }
    this.starts.push(total);
    this.hashes = new Uint32Array(total * 2);
    this.zero = new Uint8Array(total);
    const id = new Xxh64Stream();
    const CH = 1024 * PAGE;
    try {
      names.forEach((n, i) => {
        const fd = openSync(join(path, n), 'r');
        this.fds.push(fd);
        id.update(Buffer.from(`${n}\0${sizes[i]}\0`));
        for (let pos = 0; pos < sizes[i]; pos += CH) {
          const b = readAt(fd, Math.min(CH, sizes[i] - pos), pos);
          if (b.length % PAGE) throw new TscrError('E_IO', `${join(path, n)} changed while it was read`, { file: join(path, n) });
          const h = hashPages(b);
          const base = this.starts[i] + pos / PAGE;
          this.hashes.set(new Uint32Array(h.hashes.buffer), base * 2);
          this.zero.set(h.zero, base);
          id.update(new Uint8Array(h.hashes.buffer));
        }
      });
      this.wholeHash = id.digest();
    } finally { id.free(); }
    for (let i = 0; i < total; i++) {
      if (this.zero[i]) continue;
      const key = (this.hashes[2 * i + 1] >>> 11) * 0x100000000 + this.hashes[2 * i];
      const prev = this.byKey.get(key);
      if (prev === undefined) this.byKey.set(key, i);
      else if (typeof prev === 'number') this.byKey.set(key, [prev, i]);
      else prev.push(i);
    }
  }
  pageById(id: number): Uint8Array {
    if (!(id >= 0 && id < this.zero.length)) throw new TscrError('E_CORRUPT', `page ${id} is not in ${this.path}`, { file: this.path });
    let f = 0;
    while (this.starts[f + 1] <= id) f++;
    const b = readAt(this.fds[f], PAGE, (id - this.starts[f]) * PAGE);
    if (b.length !== PAGE) throw new TscrError('E_TRUNCATED', `a pages image of ${this.path} got shorter`, { file: this.path });
    return b;
  }
  get pageCount(): number { return this.zero.length; }

  pageHash(id: number): [number, number] | null {
    if (!(id >= 0 && id < this.zero.length)) throw new TscrError('E_CORRUPT', `page ${id} is not in ${this.path}`, { file: this.path });
    return this.zero[id] ? null : [this.hashes[2 * id], this.hashes[2 * id + 1]];
  }
  async findPage(lo: number, hi: number, page: Uint8Array): Promise<number> {
    const cand = this.byKey.get((hi >>> 11) * 0x100000000 + lo);
    if (cand === undefined) return -1;
    for (const id of typeof cand === 'number' ? [cand] : cand) {
      if (this.hashes[2 * id] === lo && this.hashes[2 * id + 1] === hi && bytesEqual(this.pageById(id), page)) return id;
    }
    return -1;
  }
  verify(): void { /* identity was checked against the child's record when it was opened */ }
  close(): void { for (const fd of this.fds) closeSync(fd); this.fds = []; }
}

// ---------------------------------------------------------------- directories

/** The CRIU image files of a directory, sorted (regular files only). */
export function imageFiles(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch (e) { throw ioError(e, dir, 'cannot read the image directory'); }
  const out: string[] = [];
  for (const n of names.sort()) {
    const st = statSync(join(dir, n));
    if (st.isFile()) out.push(n);
    else if (n === 'parent' && st.isDirectory()) continue; // CRIU's link to the parent checkpoint of an incremental dump
    else throw new TscrError('E_UNSUPPORTED', `${join(dir, n)} is not a regular file; a CRIU image directory holds only files`, { file: join(dir, n) });
  }
  return out;
}

/** CRIU image directory -> archive. */
export async function dirToArchive(dir: string, archive: string, opts: WriterOptions = {}, onFile?: (name: string) => void): Promise<ArchiveStats> {
  const files = imageFiles(dir);
  // Worker threads pay off only for a fair amount of pages (a worker starts in ~50 ms).
  const pageBytes = files.reduce((a, n) => { const sz = statSync(join(dir, n)).size; return a + (isPagesImage(n, sz) ? sz : 0); }, 0);
  if (pageBytes < 32 << 20) opts = { ...opts, workers: 0 };
  // CRIU-compressed pages (criu-dev --compress): raw pages to the store + a recipe (lib/criucomp.ts).
  const comp = new Map<string, PagemapLayout>();
  // Anything tscr cannot read as such (not an image, damaged) is stored verbatim: still lossless.
  try {
    if (isCompressedDir(dir)) for (const pm of pagemapFiles(dir)) { const l = pagemapLayout(dir, pm); if (l.compressed) comp.set(l.pages, l); }
  } catch { comp.clear(); }
  const w = ArchiveWriter.create(archive, opts);
  try {
    for (const n of files) {
      onFile?.(n);
      const l = comp.get(n);
      if (l) {
        // (held in memory: a file too large for that, or one tscr cannot decode, is stored verbatim)
        let raw: Uint8Array | null = null, recipe: Uint8Array | null = null;
        try { const data = readFileSync(join(dir, n)); raw = rawPages(dir, l, data); recipe = makeRecipe(dir, l, data, raw); } catch { recipe = null; }
        if (recipe) {
          const mode = statSync(join(dir, n)).mode & 0o7777;
          const sink = w.pages(n, mode);
          await sink.write(raw!);
          await sink.end();
          await w.addBytes(n + RECIPE_SUFFIX, recipe, mode);
          continue;
        }
      }
      await w.addFileFrom(n, join(dir, n));
    }
    return await w.finish();
  } catch (e) {
    await w.abort();
    throw e;
  }
}

/** Archive -> CRIU image directory (verified in full before any file is written). */
export function archiveToDir(archive: string, dir: string, onFile?: (name: string) => void): { files: number; bytes: number } {
  const r = ArchiveReader.open(archive);
  try {
    r.verify();
    mkdirSync(dir, { recursive: true });
    let bytes = 0;
    for (const f of r.list()) {
      onFile?.(f.name);
      const dst = join(dir, f.name);
      const tmp = `${dst}.tscr-partial`;
      let fd: number;
      try { fd = openSync(tmp, 'w', f.mode || 0o600); } catch (e) { throw ioError(e, tmp, 'cannot write the image'); }
      try { r.extractTo(f.name, fd); } catch (e) { closeSync(fd); try { unlinkSync(tmp); } catch { /* */ } throw e; }
      closeSync(fd);
      if (f.mode) chmodSync(tmp, f.mode);
      renameSync(tmp, dst);
      bytes += f.size;
    }
    // Rebuild CRIU-compressed pages files from their raw pages and recipes.
    let recipes = 0;
    for (const f of r.list()) {
      if (!f.name.endsWith(RECIPE_SUFFIX)) continue;
      const pages = f.name.slice(0, -RECIPE_SUFFIX.length);
      const pm = pagemapFiles(dir).map((p) => pagemapLayout(dir, p)).find((l) => l.pages === pages);
      if (!pm) throw new TscrError('E_CORRUPT', `${archive}: ${f.name} belongs to no pagemap`, { file: archive });
      const raw = readFileSync(join(dir, pages));
      const recipe = readFileSync(join(dir, f.name));
      const out = applyRecipe(join(dir, pages), pm, raw, recipe);
      const tmp = join(dir, `${pages}.tscr-partial`);
      writeFileSync(tmp, out, { mode: statSync(join(dir, pages)).mode & 0o7777 });
      renameSync(tmp, join(dir, pages));
      unlinkSync(join(dir, f.name));
      bytes += out.length - raw.length - recipe.length;
      recipes++;
    }
    return { files: r.files.size - recipes, bytes };
  } finally { r.close(); }
}

export { BLOCK_MAGIC };
