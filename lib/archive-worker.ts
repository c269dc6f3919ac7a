// One compression worker (see archive-pool.ts): packs page blocks of the writer's
// shared page memory (lib/archive-mt.ts) from the raw ring into the packed ring, with
// its own instance of core-mt.wasm over that memory: no bytes cross in messages.
// workerData: { memory, index, packed, counter } (packed: a shared Int32Array in which this
// worker counts its packed batches at index `counter`, so the writer sees its progress at
// once); messages: { id, level, paged, slots, lens } answered with { id, lens } (packed
// lengths, in order).
import { parentPort, workerData } from 'node:worker_threads';
import { mtInstance, packSlot, BLOCK_BYTES } from './archive-mt.ts';

const { memory, index, packed, counter } = workerData as { memory: WebAssembly.Memory; index: number; packed: SharedArrayBuffer; counter: number };
const packedCount = new Int32Array(packed);
const ex = mtInstance(memory, index);

parentPort!.on('message', (m: { id: number; level: number; paged: boolean; slots: number[]; lens: number[] }) => {
  try {
    const lens = new Int32Array(m.slots.length);
    for (let k = 0; k < m.slots.length; k++) {
      const s = m.slots[k], n = m.lens[k];
      if (!(n > 0 && n <= BLOCK_BYTES)) throw new Error(`bad block length ${n}`);
      lens[k] = packSlot(ex, s, n, m.level, m.paged);
    }
    Atomics.add(packedCount, counter, 1);
    parentPort!.postMessage({ id: m.id, lens });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
