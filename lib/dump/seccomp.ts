// Seccomp state of the dumped threads, in CRIU's format: one seccomp.img
// holding every distinct filter once (`seccomp_filters`, each with the index of
// the filter installed before it in `prev` and its flags), and per thread
// thread_core.seccomp_mode ('disabled' | 'strict' | 'filter') plus
// thread_core.seccomp_filter (index of the thread's newest filter).
// Filters are read with PTRACE_SECCOMP_GET_FILTER (index 0 = the first installed) from a ptrace-stopped thread
// (tracer thread only). Threads sharing a chain (inherited over fork/clone, or
// TSYNC) point at the same entries: a filter is keyed by its program, its flags
// and the index of its predecessor, so equal chains collapse to one.
import { TscrError } from '../errors.ts';
import { status } from '../proc.ts';
import { ptraceShimRaw } from '../../shim/native.ts';

export interface SeccompFilterEntry { filter: string; prev?: number; flags?: number }
export interface ThreadSeccomp { seccomp_mode?: 'strict' | 'filter'; seccomp_filter?: number }

const MAXINSNS = 4096; // BPF_MAXINSNS

/** The seccomp mode of one thread as /proc reports it: 0 off, 1 strict, 2 filter. */
export function seccompMode(pid: number, tid: number): number {
  return Number(status(pid, tid).Seccomp ?? 0);
}

export class SeccompTable {
  readonly filters: SeccompFilterEntry[] = [];
  private index = new Map<string, number>();
  private buf = Buffer.alloc(MAXINSNS * 8);
  private flags = new BigUint64Array(1);

  /** Reads the filters of a stopped thread; returns the thread_core fields to set (none when seccomp is off). */
  thread(pid: number, tid: number): ThreadSeccomp {
    const mode = seccompMode(pid, tid);
    if (mode === 0) return {};
    if (mode === 1) return { seccomp_mode: 'strict' };
    const s = ptraceShimRaw();
    // index 0 is the oldest filter (the kernel counts back from the newest); read until ENOENT
    const progs: { code: Buffer; flags: number }[] = [];
    for (let i = 0; ; i++) {
      const n = s.seccomp_filter(tid, i, this.buf);
      if (n === -2 /* ENOENT */ && i > 0) break;
      if (n <= 0) {
        throw new TscrError('E_DUMP', `reading seccomp filter ${i} of thread ${tid} (process ${pid}) failed (errno ${-n})`, {
          pid, hint: n === -1 ? 'PTRACE_SECCOMP_GET_FILTER needs CAP_SYS_ADMIN and a tracer that is not itself under seccomp' : 'the kernel needs CONFIG_CHECKPOINT_RESTORE and CONFIG_SECCOMP_FILTER',
        });
      }
      if (n > MAXINSNS) throw new TscrError('E_DUMP', `seccomp filter ${i} of thread ${tid} has ${n} instructions (more than ${MAXINSNS})`, { pid });
      const fr = s.seccomp_flags(tid, i, this.flags);
      progs.push({ code: Buffer.from(this.buf.subarray(0, n * 8)), flags: fr < 0 ? 0 : Number(this.flags[0]) });
    }
    let prev: number | undefined;
    for (let i = 0; i < progs.length; i++) {
      const f = progs[i];
      const b64 = f.code.toString('base64');
      const key = `${prev ?? '-'}|${f.flags}|${b64}`;
      let idx = this.index.get(key);
      if (idx === undefined) {
        idx = this.filters.length;
        const e: SeccompFilterEntry = { filter: b64 };
        if (prev !== undefined) e.prev = prev;
        if (f.flags) e.flags = f.flags;
        this.filters.push(e);
        this.index.set(key, idx);
      }
      prev = idx;
    }
    return { seccomp_mode: 'filter', seccomp_filter: prev! };
  }

  /** seccomp.img's single entry (empty when no thread has filters, as CRIU writes it). */
  entry(): any {
    return this.filters.length ? { seccomp_filters: this.filters } : {};
  }
}
