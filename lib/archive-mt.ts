// The archive writer's shared page memory. One WebAssembly.Memory({shared: true}) of
// fixed size (it never grows, so views over it never go stale) holds the page path of
// an archive being written: the staging area that page readers fill (process_vm_readv
// writes straight into it), the ring of raw page blocks, and the ring of packed blocks
// that are written to the file. The writer's thread and each compression worker
// instantiate build/core-mt.wasm (core-as/assembly/mt.ts: page hashes, block packing,
// memmove) over this memory, so page bytes are never copied by JavaScript on their way
// from the target to the file. Layout (byte offsets, MT_PAGES * 64 KiB in all):
//   [0, 1 MiB)          the module's static data and its stub heap (mt_low() below it)
//   SCRATCH + SLOT * i  instance i's LZ4 tables, both levels (0 = the writer, 1.. = workers)
//   HASHES              page hashes (8 bytes each) + zero flags (1 byte each) of a staged run
//   SLOT_HASHES         the page hashes of each ring slot's pages (8 bytes each, BLOCK_PAGES per slot):
//                       page blocks are page-hashed (core-as/assembly/archive.ts), their raw
//                       hash is taken over these instead of over every raw byte once more
//   STAGE               up to STAGE_PAGES pages being added
//   RING                RING_SLOTS raw page blocks of BLOCK_BYTES
//   OUT                 RING_SLOTS packed blocks of OUT_SLOT bytes (same slot numbers)
import { readFileSync } from 'node:fs';
import { CORE_MT_WASM } from './paths.ts';
import { TscrError } from './errors.ts';

export interface MtExports {
  mt_init(scratch: number): void;
  mt_scratch_bytes(): number;
  mt_copy(dst: number, src: number, n: number): void;
  mt_low(): number;
  xxh_pages(ptr: number, off: number, n: number, outHashes: number, outZero: number): number;
  arc_pack(src: number, srcOff: number, rawLen: number, dst: number, dstOff: number, cap: number, level: number, pageHashes: number): number;
  arc_pack_bound(rawLen: number): number;
}

const KIB = 1024, MIB = 1024 * KIB;
/** Wasm pages of the memory (core-as/asconfig.mt.json declares the same, fixed). */
export const MT_PAGES = 1024;
export const PAGE = 4096;
/** Pages per data block (256 KiB raw): the archive's page blocks are the ring's slots. */
export const BLOCK_PAGES = 64;
export const BLOCK_BYTES = BLOCK_PAGES * PAGE;
export const RING_SLOTS = 64;
export const STAGE_PAGES = 1024;
/** Output slot size: room for the block header and LZ4's worst case of one block. */
export const OUT_SLOT = (32 + BLOCK_BYTES + Math.floor(BLOCK_BYTES / 255) + 16 + 4095) & ~4095;
/** The writer and up to 16 compression workers (convert --workers caps at 16). */
export const MAX_INSTANCES = 17;
export const SCRATCH = 1 * MIB;
/** Scratch per instance: the fast compressor's 8 KiB table and level 2's 256 KiB of hash chains. */
export const SCRATCH_SLOT = 320 * KIB;
export const HASHES = SCRATCH + MAX_INSTANCES * SCRATCH_SLOT;
/** 16 KiB after HASHES (STAGE_PAGES * 9 bytes): RING_SLOTS * BLOCK_PAGES hashes of 8 bytes. */
export const SLOT_HASHES = HASHES + 16 * KIB;
export const STAGE = 8 * MIB;
export const RING = STAGE + STAGE_PAGES * PAGE;
export const OUT = RING + RING_SLOTS * BLOCK_BYTES;
const END = OUT + RING_SLOTS * OUT_SLOT;
if (END > MT_PAGES * 64 * KIB || HASHES + STAGE_PAGES * 9 + 16 > SLOT_HASHES || SLOT_HASHES + RING_SLOTS * BLOCK_PAGES * 8 > STAGE) throw new Error('archive-mt: layout does not fit');

let mod: WebAssembly.Module | null = null;

/**
 * Pack the n raw bytes of ring slot s into the same slot of the packed ring (the writer's thread
 * and the workers both do it); paged: a page block, page-hashed with the slot's SLOT_HASHES.
 * Returns the packed block's length; throws if it does not fit (it always should: OUT_SLOT).
 */
export function packSlot(ex: MtExports, s: number, n: number, level: number, paged: boolean): number {
  const len = ex.arc_pack(RING + s * BLOCK_BYTES, 0, n, OUT + s * OUT_SLOT, 0, OUT_SLOT, level, paged ? SLOT_HASHES + s * BLOCK_PAGES * 8 : 0);
  if (len < 0) throw new TscrError('E_INTERNAL', 'block packing: no room');
  return len;
}

/** A new shared page memory (64 MiB of address space; pages are committed as they are used). */
export function mtMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: MT_PAGES, maximum: MT_PAGES, shared: true });
}

/** Instantiate core-mt.wasm over `memory` as instance number `i` (its own scratch area). */
export function mtInstance(memory: WebAssembly.Memory, i: number): MtExports {
  if (!(i >= 0 && i < MAX_INSTANCES)) throw new TscrError('E_INTERNAL', `archive-mt: instance ${i} out of range`);
  if (!mod) {
    let bytes: Buffer;
    try { bytes = readFileSync(CORE_MT_WASM); } catch {
      throw new TscrError('E_NOT_FOUND', `the Wasm core is missing (${CORE_MT_WASM})`, { hint: 'run `npm install` (or `npm run build`) in the tscr directory' });
    }
    mod = new WebAssembly.Module(bytes);
  }
  const inst = new WebAssembly.Instance(mod, {
    env: {
      memory,
      abort() { throw new TscrError('E_INTERNAL', 'core-mt: abort'); },
    },
  });
  const ex = inst.exports as unknown as MtExports;
  if (ex.mt_low() > SCRATCH) throw new TscrError('E_INTERNAL', `archive-mt: the module's static data (${ex.mt_low()} bytes) overlaps the scratch areas`);
  if (ex.arc_pack_bound(BLOCK_BYTES) > OUT_SLOT) throw new TscrError('E_INTERNAL', `archive-mt: a packed block may need ${ex.arc_pack_bound(BLOCK_BYTES)} bytes, more than ${OUT_SLOT}`);
  if (ex.mt_scratch_bytes() > SCRATCH_SLOT) throw new TscrError('E_INTERNAL', `archive-mt: an instance needs ${ex.mt_scratch_bytes()} bytes of scratch, more than ${SCRATCH_SLOT}`);
  ex.mt_init(SCRATCH + i * SCRATCH_SLOT);
  return ex;
}
