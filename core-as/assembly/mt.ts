// Entry of build/core-mt.wasm: the page-path subset of the core (page hashes, block
// packing) built over ONE shared memory, imported from the host ('env.memory', a
// WebAssembly.Memory({shared: true}) of fixed size that never grows). The dump's
// reader thread and its compression workers each instantiate this module over the
// same memory, so pages go from process_vm_readv to hashing, to LZ4, to the file
// without being copied through JavaScript (lib/archive-mt.ts lays the memory out).
// Rules that make sharing safe: nothing here keeps mutable data in linear memory
// except at addresses the caller gives (mt_init's scratch area, one per instance);
// globals are per instance.
export { xxh_pages } from './xxh64';
export { arc_pack, arc_pack_bound } from './archive';
import { lz4_use_scratch, lz4_scratch_bytes } from './lz4';

/** Start this instance: its LZ4 tables (both levels) are the mt_scratch_bytes() at `scratch`. */
export function mt_init(scratch: usize): void {
  lz4_use_scratch(scratch);
}

/** Scratch bytes an instance needs (mt_init). */
export function mt_scratch_bytes(): usize {
  return lz4_scratch_bytes();
}

/** memmove inside the shared memory (no JavaScript copy). */
export function mt_copy(dst: usize, src: usize, n: usize): void {
  memory.copy(dst, src, n);
}

/** End of what the module itself uses (static data, and the stub heap its start code allocated). */
export function mt_low(): usize {
  return heap.alloc(16) + 16;
}
