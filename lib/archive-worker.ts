// One compression worker (see archive-pool.ts): packs blocks with its own Wasm instance.
import { parentPort } from 'node:worker_threads';
import { packBlock } from './archive-core.ts';

parentPort!.on('message', (m: { id: number; raw: Uint8Array; level: number }) => {
  try {
    const packed = packBlock(m.raw, m.level);
    parentPort!.postMessage({ id: m.id, packed }, [packed.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
