// Compression workers: each thread has its own Wasm instance and packs blocks
// (LZ4 + hashes) so both cores compress while the main thread hashes and dedups.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, DIST } from './paths.ts';
import { TscrError } from './errors.ts';

interface Job { resolve(b: Uint8Array): void; reject(e: Error): void }

function workerSpec(): { file: string | URL; execArgv: string[] } {
  if (import.meta.url.endsWith('.ts')) {
    return { file: new URL('./archive-worker.ts', import.meta.url), execArgv: ['--import', join(ROOT, 'scripts', 'ts-register.mjs')] };
  }
  const f = join(DIST, 'archive-worker.js');
  if (!existsSync(f)) throw new TscrError('E_NOT_FOUND', `the compression worker is missing (${f})`, { hint: 'run `npm run build`' });
  return { file: f, execArgv: [] };
}

export class CompressPool {
  private workers: Worker[] = [];
  private queues: Map<number, Job>[] = [];
  private next = 0;
  private seq = 0;
  private failed: Error | null = null;
  private rings: (SharedArrayBuffer | null)[] = [];
  constructor(readonly size: number) {
    const spec = workerSpec();
    for (let i = 0; i < size; i++) {
      const w = new Worker(spec.file, { execArgv: spec.execArgv });
      const q = new Map<number, Job>();
      w.on('message', (m: { id: number; packed?: Uint8Array; error?: string }) => {
        const j = q.get(m.id);
        if (!j) return;
        q.delete(m.id);
        if (m.error) j.reject(new TscrError('E_INTERNAL', `compression worker: ${m.error}`));
        else j.resolve(m.packed!);
      });
      w.on('error', (e) => { this.failed = e; for (const j of q.values()) j.reject(e); q.clear(); });
      this.workers.push(w); this.queues.push(q); this.rings.push(null);
    }
  }
  /** Pack the len raw bytes at off in the shared ring (the slot must not change until this resolves). */
  pack(ring: SharedArrayBuffer, off: number, len: number, level: number): Promise<Uint8Array> {
    if (this.failed) return Promise.reject(this.failed);
    const i = this.next++ % this.size;
    const id = this.seq++;
    if (this.rings[i] !== ring) { this.workers[i].postMessage({ ring }); this.rings[i] = ring; }
    return new Promise((resolve, reject) => {
      this.queues[i].set(id, { resolve, reject });
      this.workers[i].postMessage([id, off, len, level]);
    });
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}
