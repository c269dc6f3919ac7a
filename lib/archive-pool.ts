// Compression workers: each thread has its own instance of core-mt.wasm over the
// writer's shared page memory (lib/archive-mt.ts) and packs blocks (LZ4 + hashes) so
// both cores compress while the writer reads, hashes and dedups. A job names a batch
// of ring slots; the worker packs each into the same slot of the packed ring and
// answers with the packed lengths only (no bytes in messages, no copies). A batch is
// usually 8 blocks (2 MiB of pages).
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ROOT, DIST } from './paths.ts';
import { TscrError } from './errors.ts';

/**
 * How many compression workers to start: one per core beyond the first, because the writer's
 * own thread packs blocks too whenever its workers fall behind. On two cores that is one worker:
 * with two, three threads competed for two cores; interleaved with them, a compressed dump of a
 * 1.14 GiB python3 process took 1.01-1.04 s instead of 1.08-1.14 (0.1 CPU-s less), and one of a
 * 0.94 GiB mixed-content process was no slower (two were chosen before the writer helped).
 * At most 3: the writer's ring of RING_SLOTS (64) blocks holds about eight batches in flight, so
 * more workers would mostly wait for slots (this machine has two vCPUs: more is untested).
 */
export function defaultWorkers(): number {
  return Math.max(0, Math.min(3, availableParallelism() - 1));
}

interface Job { resolve(lens: Int32Array): void; reject(e: Error): void }

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
  private busy: number[] = [];
  private seq = 0;
  /** batches packed, one counter per worker, counted by the workers themselves (Atomics) */
  private packed: Int32Array;
  private failed: Error | null = null;
  /** memory: the writer's shared page memory; worker i uses instance number i + 1 of it. */
  constructor(readonly size: number, memory: WebAssembly.Memory) {
    const spec = workerSpec();
    this.packed = new Int32Array(new SharedArrayBuffer(4 * size));
    for (let i = 0; i < size; i++) {
      const w = new Worker(spec.file, { execArgv: spec.execArgv, workerData: { memory, index: i + 1, packed: this.packed.buffer, counter: i } });
      const q = new Map<number, Job>();
      w.on('message', (m: { id: number; lens?: Int32Array; error?: string }) => {
        const j = q.get(m.id);
        if (!j) return;
        q.delete(m.id);
        this.busy[i]--;
        if (m.error) j.reject(new TscrError('E_INTERNAL', `compression worker: ${m.error}`));
        else j.resolve(m.lens!);
      });
      w.on('error', (e) => { this.failed = e; for (const j of q.values()) j.reject(e); q.clear(); });
      this.workers.push(w); this.queues.push(q); this.busy.push(0);
    }
  }
  /**
   * Pack the blocks in ring slots `slots` (raw lengths `lens`) into the same slots of the
   * output ring; resolves with the packed lengths. The slots must not change until then.
   * paged: page blocks, page-hashed with the slots' hashes in SLOT_HASHES (lib/archive-mt.ts).
   */
  pack(slots: number[], lens: number[], level: number, paged: boolean): Promise<Int32Array> {
    if (this.failed) return Promise.reject(this.failed);
    let i = 0;
    for (let k = 1; k < this.size; k++) if (this.busy[k] < this.busy[i]) i = k;
    const id = this.seq++;
    this.busy[i]++;
    return new Promise((resolve, reject) => {
      this.queues[i].set(id, { resolve, reject });
      this.workers[i].postMessage({ id, level, paged, slots, lens });
    });
  }
  /**
   * Batches sent and not packed yet, read from the workers' own counters: exact at any moment,
   * without waiting for their answers (which this thread sees only when it next waits).
   */
  queued(): number {
    let done = 0;
    for (let i = 0; i < this.size; i++) done += Atomics.load(this.packed, i);
    return this.seq - done;
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}
