// Host side of the tracer thread: runInTracer(job, opts) spawns shim/worker.ts
// (dist/worker.cjs when bundled) and relays its progress/log messages. SIGINT
// and SIGTERM during a job set a shared abort flag; the job notices at its next
// checkpoint, undoes what it did to the target, and fails with E_DUMP.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './paths.ts';
import { TscrError } from './errors.ts';

/** What a job running on the tracer thread gets. */
export interface JobCtx {
  progress(done: number, total?: number, note?: string): void;
  log(level: 1 | 2 | 3 | 4, text: string): void;
  /** True once SIGINT/SIGTERM reached tscr. */
  aborted(): boolean;
  /** Throws E_DUMP if aborted (call between steps). */
  checkAbort(): void;
}

export interface TracerHooks {
  onProgress?(done: number, total?: number, note?: string): void;
  onLog?(level: number, text: string): void;
}

function workerEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    return { file: join(ROOT, 'shim', 'worker.ts'), execArgv: ['--import', join(ROOT, 'scripts', 'ts-register.mjs')] };
  }
  const dist = join(ROOT, 'dist', 'worker.cjs');
  if (!existsSync(dist)) throw new TscrError('E_NOT_FOUND', `the tracer worker is missing (${dist})`, { hint: 'run `npm run build`' });
  return { file: dist, execArgv: [] };
}

let warm: { w: Worker; abort: SharedArrayBuffer } | null = null;

/** bin/tscr.js starts the tracer thread for `tscr dump` before the CLI loads: take it over. */
function adoptLauncherTracer(): boolean {
  const g = globalThis as { __tscrWarmTracer?: { w: Worker; abort: SharedArrayBuffer } };
  if (warm || !g.__tscrWarmTracer) return false;
  warm = g.__tscrWarmTracer;
  delete g.__tscrWarmTracer;
  return true;
}

/**
 * Start the tracer thread now, before the job is known (its start-up then overlaps
 * the CLI's own); the next runInTracer() hands it the job. Commands call this as
 * early as they can (the CLI's fast path does it for dump).
 */
export function prewarmTracer(): void {
  if (warm || adoptLauncherTracer()) return;
  try {
    const abort = new SharedArrayBuffer(4);
    const { file, execArgv } = workerEntry();
    const w = new Worker(file, { workerData: { abort }, execArgv });
    w.unref();
    w.on('error', () => { /* reported by the job that uses it */ });
    warm = { w, abort };
  } catch { warm = null; }
}

/** Run a tracer job (e.g. 'dump') on its own OS thread; resolves with its result. */
export function runInTracer<T = any>(job: string, opts: unknown, hooks: TracerHooks = {}): Promise<T> {
  let w: Worker, abort: SharedArrayBuffer;
  adoptLauncherTracer();
  if (warm) {
    ({ w, abort } = warm);
    warm = null;
    w.ref();
    w.postMessage({ job, opts });
  } else {
    abort = new SharedArrayBuffer(4);
    const { file, execArgv } = workerEntry();
    w = new Worker(file, { workerData: { job, opts, abort }, execArgv });
  }
  const flag = new Int32Array(abort);
  const onSig = (sig: string) => { Atomics.store(flag, 0, 1); hooks.onLog?.(1, `received ${sig}; stopping the job and restoring the target`); };
  const onInt = () => onSig('SIGINT');
  const onTerm = () => onSig('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      f();
    };
    w.on('message', (m: any) => {
      if (m.type === 'progress') hooks.onProgress?.(m.done, m.total, m.note);
      else if (m.type === 'log') hooks.onLog?.(m.level, m.text);
      else if (m.type === 'result') finish(() => resolve(m.value));
      else if (m.type === 'error') {
        const e = m.error;
        finish(() => reject(e.tscr ? new TscrError(e.code, e.message, e.where) : Object.assign(new Error(e.message), { stack: e.stack })));
      }
    });
    w.on('error', (e) => finish(() => reject(e)));
    w.on('exit', (code) => finish(() => reject(new TscrError('E_INTERNAL', `the tracer thread exited (code ${code}) without a result`))));
  }).finally(() => { w.terminate(); });
}
