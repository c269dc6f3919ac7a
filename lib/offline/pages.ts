// Streaming page data through the Wasm core: one pinned chunk buffer, filled
// straight from the file (no extra copy), hashed per 4 KiB page (XXH64, xxh_pages of
// core-as/assembly/xxh64.ts; all-zero pages hash to 0).
import { core, allocBytes, release } from '../../core-as/host.ts';
import { TscrError } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';

export const CHUNK_PAGES = 4096; // 16 MiB per read

/**
 * Per-page XXH64 hashes of a pages file of a checkpoint (one u64 per 4 KiB
 * page). A trailing partial page is hashed zero-padded. onBytes reports progress.
 */
export function hashPagesFile(cp: Checkpoint, name: string, onBytes?: (done: number, total: number) => void): BigUint64Array {
  const ex = core();
  const total = cp.size(name);
  const npages = Math.ceil(total / 4096);
  const hashes = new BigUint64Array(npages);
  const inPtr = allocBytes(CHUNK_PAGES * 4096);
  const outPtr = allocBytes(CHUNK_PAGES * 8);
  const zeroPtr = allocBytes(CHUNK_PAGES);
  try {
    let page = 0;
    while (page < npages) {
      const want = Math.min(CHUNK_PAGES, npages - page);
      // a fresh view per chunk: memory growth detaches old ones
      const view = new Uint8Array(ex.memory.buffer, inPtr, want * 4096);
      const got = cp.src.readAt(name, page * 4096, view);
      if (got < view.length) {
        if (page * 4096 + got < total) throw new TscrError('E_IO', `short read from ${cp.path(name)}`, { file: cp.path(name), offset: page * 4096 + got });
        view.fill(0, got);
      }
      ex.xxh_pages(inPtr, 0, want, outPtr, zeroPtr);
      hashes.set(new BigUint64Array(ex.memory.buffer.slice(outPtr, outPtr + want * 8)), page);
      page += want;
      onBytes?.(Math.min(total, page * 4096), total);
    }
  } finally { release(inPtr); release(outPtr); release(zeroPtr); }
  return hashes;
}

/** One digest for a whole hash list (XXH64 of the per-page hashes). */
export function digestOf(hashes: BigUint64Array): string {
  const ex = core();
  const bytes = new Uint8Array(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  const p = allocBytes(Math.max(8, bytes.length));
  try {
    new Uint8Array(ex.memory.buffer, p, bytes.length).set(bytes);
    return BigInt.asUintN(64, ex.xxh_hash64(p, 0, bytes.length, 0n)).toString(16).padStart(16, '0');
  } finally { release(p); }
}
