// Host side of the archive's Wasm modules (xxh64, lz4, archive blocks). It only
// moves bytes: copies input into pinned Wasm buffers, calls the core, copies the
// results out. Buffers are reused between calls; views over Wasm memory are made
// fresh for every call (memory growth detaches them).
import { core, allocBytes, release, type CoreExports } from '../core-as/host.ts';

/** A pinned, reusable Wasm buffer that grows on demand. */
export class Scratch {
  ptr = 0;
  cap = 0;
  ensure(n: number): number {
    if (n > this.cap) {
      if (this.ptr) release(this.ptr);
      this.cap = Math.max(n, Math.min(this.cap * 2, 64 << 20), 4096);
      this.ptr = 0;
      this.ptr = allocBytes(this.cap);
    }
    return this.ptr;
  }
  view(off: number, len: number): Uint8Array {
    return new Uint8Array(core().memory.buffer, this.ptr + off, len);
  }
  /** Copy bytes into the buffer at offset 0 (growing it) and return its pointer. */
  put(bytes: Uint8Array): number {
    const p = this.ensure(bytes.length);
    new Uint8Array(core().memory.buffer, p, bytes.length).set(bytes);
    return p;
  }
  free(): void { if (this.ptr) release(this.ptr); this.ptr = 0; this.cap = 0; }
}

const sIn = new Scratch();
const sOut = new Scratch();
const sAux = new Scratch();

export function ex(): CoreExports { return core(); }

/** XXH64 of bytes (seed 0 by default), as an unsigned BigInt. */
export function xxh64(bytes: Uint8Array, seed = 0n): bigint {
  const p = sIn.put(bytes);
  return BigInt.asUintN(64, ex().xxh_hash64(p, 0, bytes.length, seed));
}

export function hex64(h: bigint): string {
  return BigInt.asUintN(64, h).toString(16).padStart(16, '0');
}

/** Streaming XXH64 (for whole-file hashes of any size). Call free() when done. */
export class Xxh64Stream {
  private h: number;
  constructor(seed = 0n) { this.h = ex().xxh_new(seed); }
  update(bytes: Uint8Array): void {
    const CH = 4 << 20;
    for (let o = 0; o < bytes.length; o += CH) {
      const part = bytes.subarray(o, Math.min(bytes.length, o + CH));
      const p = sIn.put(part);
      ex().xxh_update(this.h, p, 0, part.length);
    }
  }
  digest(): bigint { return BigInt.asUintN(64, ex().xxh_digest(this.h)); }
  free(): void { if (this.h >= 0) ex().xxh_free(this.h); this.h = -1; }
}

export interface PageHashes {
  hashes: BigUint64Array;
  zero: Uint8Array;
  zeros: number;
}

/** Hash every 4 KiB page of `pages` (length a multiple of 4096); zero pages are flagged. */
export function hashPages(pages: Uint8Array): PageHashes {
  const n = pages.length >>> 12;
  if (n * 4096 !== pages.length) throw new Error('hashPages: length is not a multiple of 4096');
  const p = sIn.put(pages);
  const hp = sOut.ensure(n * 9 + 8);
  const zeros = ex().xxh_pages(p, 0, n, hp, hp + n * 8);
  const mem = core().memory.buffer;
  const hashes = new BigUint64Array(n);
  new Uint8Array(hashes.buffer).set(new Uint8Array(mem, hp, n * 8));
  const zero = new Uint8Array(mem.slice(hp + n * 8, hp + n * 9));
  return { hashes, zero, zeros };
}

/** LZ4-compress one block (LZ4 block format); level 1 = fast, 2/3 = hash chains (16/64 candidates). */
export function lz4Compress(raw: Uint8Array, level = 1): Uint8Array {
  const bound = ex().lz4_bound(raw.length);
  sOut.ensure(bound);
  const p = sIn.put(raw);
  const n = level >= 2
    ? ex().lz4_compress_hc(p, 0, raw.length, sOut.ptr, 0, bound, level >= 3 ? 64 : 4)
    : ex().lz4_compress(p, 0, raw.length, sOut.ptr, 0, bound);
  if (n < 0) throw new Error('lz4 compress: output room too small');
  return sOut.view(0, n).slice();
}

/** Decompress one LZ4 block of at most maxRaw bytes; returns the bytes, or the offset of the bad byte. */
export function lz4Decompress(block: Uint8Array, maxRaw: number): Uint8Array | { badOffset: number } {
  sOut.ensure(maxRaw + 32);
  const p = sIn.put(block);
  const n = ex().lz4_decompress(p, 0, block.length, sOut.ptr, 0, maxRaw);
  if (n < 0) return { badOffset: -n - 1 };
  return sOut.view(0, n).slice();
}

export const BLOCK_HEADER = 32;
export const BLOCK_MAGIC = 0x4b4c4254;

export const UNPACK_ERRORS: Record<number, string> = {
  [-1]: 'block header magic is wrong',
  [-2]: 'block header names an unknown codec',
  [-3]: 'block lengths do not match the index',
  [-4]: 'block payload hash does not match (flipped or missing bytes)',
  [-5]: 'block payload is not valid LZ4',
  [-6]: 'decompressed block hash does not match',
};

/** Pack raw bytes into a verified block (header + payload); level 0 stores, 1 compresses. */
export function packBlock(raw: Uint8Array, level = 1, pageHashes?: BigUint64Array): Uint8Array {
  const bound = ex().arc_pack_bound(raw.length);
  sOut.ensure(bound);
  const p = sIn.put(raw);
  // page-hashed: the raw hash is taken over these page hashes (see core-as/assembly/archive.ts)
  const hp = pageHashes ? sAux.put(new Uint8Array(pageHashes.buffer, pageHashes.byteOffset, pageHashes.byteLength)) : 0;
  const n = ex().arc_pack(p, 0, raw.length, sOut.ptr, 0, bound, level, hp);
  if (n === -2) throw new Error('packBlock: a page-hashed block holds whole pages, at most 64');
  if (n < 0) throw new Error('packBlock: output room too small');
  return sOut.view(0, n).slice();
}

/** Verify and unpack a block; returns the raw bytes, or an error code (see UNPACK_ERRORS) with detail. */
export function unpackBlock(block: Uint8Array, maxRaw: number): Uint8Array | { code: number; detail: number } {
  sAux.ensure(maxRaw + 32);
  const p = sIn.put(block);
  const n = ex().arc_unpack(p, 0, block.length, sAux.ptr, 0, maxRaw);
  if (n < 0) return { code: n, detail: ex().arc_last_detail() };
  return sAux.view(0, n).slice();
}
