// One compression worker (see archive-pool.ts): packs blocks from the writer's
// shared input ring into the shared output ring with its own Wasm instance.
// workerData: { ring, out, slotBytes, outSlotBytes }; messages: { id, level, slots, lens }
// answered with { id, lens } (packed lengths, in order).
import { parentPort, workerData } from 'node:worker_threads';
import { core } from '../core-as/host.ts';
import { Scratch } from './archive-core.ts';

const { ring, out, slotBytes, outSlotBytes } = workerData as { ring: SharedArrayBuffer; out: SharedArrayBuffer; slotBytes: number; outSlotBytes: number };
const ringU8 = new Uint8Array(ring);
const outU8 = new Uint8Array(out);
const sIn = new Scratch();
const sOut = new Scratch();

parentPort!.on('message', (m: { id: number; level: number; slots: number[]; lens: number[] }) => {
  try {
    const ex = core();
    const lens = new Int32Array(m.slots.length);
    const bound = ex.arc_pack_bound(slotBytes);
    if (bound > outSlotBytes) throw new Error(`output slot of ${outSlotBytes} bytes is smaller than ${bound}`);
    const ip = sIn.ensure(slotBytes), op = sOut.ensure(bound);
    for (let k = 0; k < m.slots.length; k++) {
      const s = m.slots[k], n = m.lens[k];
      if (!(n > 0 && n <= slotBytes)) throw new Error(`bad block length ${n}`);
      const mem = new Uint8Array(ex.memory.buffer);
      mem.set(ringU8.subarray(s * slotBytes, s * slotBytes + n), ip);
      const len = ex.arc_pack(ip, 0, n, op, 0, bound, m.level);
      if (len < 0) throw new Error('block packing: no room');
      outU8.set(new Uint8Array(ex.memory.buffer, op, len), s * outSlotBytes);
      lens[k] = len;
    }
    parentPort!.postMessage({ id: m.id, lens });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
