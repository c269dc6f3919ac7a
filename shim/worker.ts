// The tracer thread. ptrace ties a tracee to the OS thread that attached, so a
// whole dump or restore runs here, synchronously, in one worker_threads Worker
// (spawned by lib/tracer.ts). The main thread stays free for the CLI, signals
// and progress output. Messages to the main thread:
//   {type:'progress', done, total?, note?} | {type:'log', level, text}
//   {type:'result', value} | {type:'error', error}
// Jobs: one line per job in the table below (each owner adds theirs).
import { parentPort, workerData } from 'node:worker_threads';
import { TscrError } from '../lib/errors.ts';
import type { JobCtx } from '../lib/tracer.ts';

type Job = (opts: any, ctx: JobCtx) => unknown;
const jobs: Record<string, () => Promise<Job>> = {
  selftest: async () => (await import('../lib/dump/selftest.ts')).selftest,
  dump: async () => (await import('../lib/dump/index.ts')).dumpJob,
  caps: async () => (await import('../lib/caps.ts')).capsJob,
};

const PROGRESS_MS = 50;

async function run(job: string, opts: any, abort: SharedArrayBuffer): Promise<void> {
  const flag = new Int32Array(abort);
  const post = (m: any) => parentPort!.postMessage(m);
  // Progress goes to the main thread at most every PROGRESS_MS (and always with a note, or at the
  // end): a dump reports it after every 1 MiB read, and a message per report woke the main thread
  // over a thousand times a second for nothing a terminal can show.
  let lastProgress = -Infinity;
  const ctx: JobCtx = {
    progress: (done, total, note) => {
      const now = performance.now();
      if (now - lastProgress < PROGRESS_MS && note === undefined && !(total !== undefined && done >= total)) return;
      lastProgress = now;
      post({ type: 'progress', done, total, note });
    },
    log: (level, text) => post({ type: 'log', level, text }),
    aborted: () => Atomics.load(flag, 0) !== 0,
    checkAbort: () => {
      if (Atomics.load(flag, 0) !== 0) throw new TscrError('E_DUMP', 'interrupted by a signal; the target was left running as it was');
    },
  };
  try {
    const load = jobs[job];
    if (!load) throw new TscrError('E_INTERNAL', `unknown tracer job ${job}`);
    const fn = await load();
    const value = await fn(opts, ctx);
    post({ type: 'result', value });
  } catch (e: any) {
    if (e instanceof TscrError) post({ type: 'error', error: { tscr: true, code: e.code, message: e.message, where: e.where } });
    else post({ type: 'error', error: { tscr: false, message: String(e?.message ?? e), stack: e?.stack } });
  }
}
// The job comes with workerData, or (for a worker started early, while the CLI was
// still parsing its arguments: lib/tracer.ts prewarmTracer) in the first message.
const wd = workerData as { job?: string; opts?: any; abort: SharedArrayBuffer };
if (wd.job) run(wd.job, wd.opts, wd.abort);
else parentPort!.once('message', (m: any) => { run(m.job, m.opts, wd.abort); });
