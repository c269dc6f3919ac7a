// One compression worker (see archive-pool.ts): packs blocks from the writer's
// shared ring with its own Wasm instance, and hands the packed block back.
import { parentPort } from 'node:worker_threads';
import { packBlock } from './archive-core.ts';

parentPort!.on('message', (m: { id: number; ring: SharedArrayBuffer; off: number; len: number; level: number }) => {
  try {
    const packed = packBlock(new Uint8Array(m.ring, m.off, m.len), m.level);
    parentPort!.postMessage({ id: m.id, packed }, [packed.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
