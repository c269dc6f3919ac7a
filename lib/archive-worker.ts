// One compression worker (see archive-pool.ts): packs blocks from the writer's
// shared ring with its own Wasm instance, and hands the packed block back.
// Messages: { ring } once, then [id, offset, length, level] per block.
import { parentPort } from 'node:worker_threads';
import { packBlock } from './archive-core.ts';

let ring: SharedArrayBuffer | null = null;
parentPort!.on('message', (m: { ring: SharedArrayBuffer } | [number, number, number, number]) => {
  if (!Array.isArray(m)) { ring = m.ring; return; }
  const [id, off, len, level] = m;
  try {
    const packed = packBlock(new Uint8Array(ring!, off, len), level);
    parentPort!.postMessage({ id, packed }, [packed.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id, error: (e as Error).message });
  }
});
