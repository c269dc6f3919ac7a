// Thread-level ptrace control on top of the shim (shim/ptrace.c via
// shim/native.ts): seize/interrupt/wait, registers, syscall injection.
// Runs on the tracer thread only (see shim/worker.ts).
import { ptraceShimRaw, check, NT, PTRACE_O, PTRACE_EVENT, INJ_POKE, errnoName } from '../shim/native.ts';
import { TscrError } from './errors.ts';

export const SYS = {
  read: 0, write: 1, close: 3, mmap: 9, mprotect: 10, munmap: 11, rt_sigaction: 13, rt_sigprocmask: 14,
  getitimer: 36, setitimer: 38, getpid: 39, clone: 56, fork: 57, exit: 60, kill: 62, fcntl: 72, umask: 95,
  getsid: 124, setsid: 112, setpgid: 109, prctl: 157, arch_prctl: 158, gettid: 186,
  timer_create: 222, timer_settime: 223, timer_gettime: 224, timer_getoverrun: 225, timer_delete: 226,
  rt_sigqueueinfo: 129, rt_tgsigqueueinfo: 297, sigaltstack: 131, restart_syscall: 219,
  openat: 257, dup3: 292, pidfd_open: 434, pidfd_getfd: 438, clone3: 435, rseq: 334, mremap: 25,
  get_robust_list: 274, set_robust_list: 273, sched_getaffinity: 204,
} as const;

/** Registers (user_regs_struct, 27 u64) by name, in kernel order. */
export const REG_NAMES = [
  'r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di',
  'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs',
] as const;
export type RegName = typeof REG_NAMES[number];
export type Regs = Record<RegName, bigint>;
export const REGS_SIZE = 27 * 8;

export function decodeRegs(b: Buffer): Regs {
  const r = {} as Regs;
  REG_NAMES.forEach((n, i) => { r[n] = b.readBigUInt64LE(i * 8); });
  return r;
}
export function encodeRegs(r: Regs): Buffer {
  const b = Buffer.alloc(REGS_SIZE);
  REG_NAMES.forEach((n, i) => { b.writeBigUInt64LE(BigInt.asUintN(64, r[n]), i * 8); });
  return b;
}

export interface StopInfo {
  tid: number;
  kind: 'stopped' | 'exited' | 'killed';
  sig: number;        // stop signal / exit code / kill signal
  event: number;      // PTRACE_EVENT_* (0 when none)
  raw: number;
}

export function decodeStatus(tid: number, st: number): StopInfo {
  if ((st & 0x7f) === 0) return { tid, kind: 'exited', sig: (st >> 8) & 0xff, event: 0, raw: st };
  if ((st & 0xff) === 0x7f) return { tid, kind: 'stopped', sig: (st >> 8) & 0xff, event: (st >> 16) & 0xffff, raw: st };
  return { tid, kind: 'killed', sig: st & 0x7f, event: 0, raw: st };
}

const st4 = new Int32Array(1);
/** waitpid(__WALL) for tid (or -1 for any) with a timeout; null on timeout. */
export function waitFor(tid: number, timeoutMs: number): StopInfo | null {
  const r = ptraceShimRaw().wait(tid, timeoutMs, st4);
  if (r === -110) return null;
  check(r, `waiting for thread ${tid}`, { pid: tid }, 'E_PTRACE');
  return decodeStatus(r, st4[0]);
}

export const SEIZE_OPTS = PTRACE_O.TRACECLONE | PTRACE_O.TRACEFORK | PTRACE_O.TRACEVFORK | PTRACE_O.TRACESYSGOOD;

/** One seized thread. */
export class Tracee {
  readonly tid: number;
  readonly pid: number;
  stopped = false;
  /** Set when the thread was in a group-stop (SIGSTOP, SIGTSTP, ...) when seized. */
  stopSig = 0;
  /** Signals that arrived while we held the thread; re-sent on detach. */
  pendingSigs: number[] = [];
  constructor(pid: number, tid: number) { this.pid = pid; this.tid = tid; }

  seize(options = SEIZE_OPTS): void {
    check(ptraceShimRaw().seize(this.tid, options), `seizing thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
  }

  /** PTRACE_INTERRUPT and wait for the stop (group-stop or event stop). */
  interruptAndWait(timeoutMs = 5000): StopInfo {
    const s = ptraceShimRaw();
    check(s.interrupt(this.tid), `stopping thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
    return this.waitStop(timeoutMs);
  }

  /** Wait until the thread is in a ptrace stop we can work with. Signal-delivery stops are
   * absorbed (the signal is kept for re-delivery at detach) and the thread re-interrupted. */
  waitStop(timeoutMs = 5000): StopInfo {
    const s = ptraceShimRaw();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const st = waitFor(this.tid, Math.max(0, left));
      if (!st) throw new TscrError('E_PTRACE', `thread ${this.tid} did not stop within ${timeoutMs} ms`, { pid: this.pid, hint: 'is it in uninterruptible sleep (state D)? try again' });
      if (st.kind !== 'stopped') throw new TscrError('E_PTRACE', `thread ${this.tid} exited while being stopped`, { pid: this.pid });
      if (st.event === PTRACE_EVENT.STOP || (st.event === 0 && st.sig === (0x80 | 5))) { this.stopped = true; return st; }
      if (st.event !== 0) {
        // fork/clone/exec event stop: the thread is stopped; the caller's walk picks up new tasks.
        this.stopped = true;
        return st;
      }
      // signal-delivery-stop: keep the signal for later, stop again
      if (st.sig !== 5 /* SIGTRAP from our own steps */) this.pendingSigs.push(st.sig);
      check(s.cont(this.tid, 0), `holding thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
      check(s.interrupt(this.tid), `stopping thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
    }
  }

  getRegsRaw(): Buffer {
    const b = Buffer.alloc(REGS_SIZE);
    check(ptraceShimRaw().getregset(this.tid, NT.PRSTATUS, b, REGS_SIZE), `reading registers of thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
    return b;
  }
  getRegs(): Regs { return decodeRegs(this.getRegsRaw()); }
  setRegs(r: Regs | Buffer): void {
    const b = Buffer.isBuffer(r) ? r : encodeRegs(r);
    check(ptraceShimRaw().setregset(this.tid, NT.PRSTATUS, b, REGS_SIZE), `writing registers of thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
  }
  /** NT_X86_XSTATE as the kernel gives it (its length is this CPU's xstate size). */
  getXstate(): Buffer {
    const b = Buffer.alloc(16384);
    const n = check(ptraceShimRaw().getregset(this.tid, NT.X86_XSTATE, b, b.length), `reading xstate of thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
    return Buffer.from(b.subarray(0, n));
  }
  setXstate(b: Buffer): void {
    check(ptraceShimRaw().setregset(this.tid, NT.X86_XSTATE, b, b.length), `writing xstate of thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
  }
  /** NT_PRFPREG: the 512-byte fxsave area. */
  getFpregs(): Buffer {
    const b = Buffer.alloc(512);
    check(ptraceShimRaw().getregset(this.tid, NT.PRFPREG, b, 512), `reading fp registers of thread ${this.tid}`, { pid: this.pid }, 'E_PTRACE');
    return b;
  }
  /** rseq registration: {ptr, size, signature, flags}; ptr 0 when none. */
  getRseq(): { ptr: bigint; size: number; sig: number; flags: number } {
    const b = Buffer.alloc(32);
    const r = ptraceShimRaw().get_rseq(this.tid, b);
    if (r < 0) return { ptr: 0n, size: 0, sig: 0, flags: 0 };
    return { ptr: b.readBigUInt64LE(0), size: b.readUInt32LE(8), sig: b.readUInt32LE(12), flags: b.readUInt32LE(16) };
  }

  private args = new BigInt64Array(6);
  private ret = new BigInt64Array(1);
  private sig = new Int32Array(1);
  /** Run syscall nr in this stopped thread through the gadget (see Injector). Returns raw rax (-errno on failure). */
  syscall(gadget: bigint, poke: boolean, nr: number, ...a: (number | bigint)[]): bigint {
    for (let i = 0; i < 6; i++) this.args[i] = BigInt.asIntN(64, BigInt(a[i] ?? 0));
    const rc = ptraceShimRaw().inject(this.tid, nr, this.args, gadget, poke ? INJ_POKE : 0, this.ret, this.sig);
    if (this.sig[0]) this.pendingSigs.push(this.sig[0]);
    if (rc < 0) throw new TscrError('E_PTRACE', `injecting syscall ${nr} into thread ${this.tid} failed: ${errnoName(-rc)}`, { pid: this.pid, errno: -rc });
    return this.ret[0];
  }

  detach(): number {
    // The thread sits in an event stop, where PTRACE_DETACH's signal argument is not
    // delivered: re-send every held signal with tgkill after detaching.
    const r = ptraceShimRaw().detach(this.tid, 0);
    for (const s of this.pendingSigs.splice(0)) ptraceShimRaw().tgkill(this.pid, this.tid, s);
    this.stopped = false;
    return r;
  }
}

/** Find a syscall gadget (bytes 0f 05) in an executable mapping of pid: vdso first, then any r-x mapping. */
export function findGadget(pid: number, maps: { start: bigint; end: bigint; prot: string; name: string }[]): { addr: bigint; poke: boolean } {
  const s = ptraceShimRaw();
  const order = [...maps.filter((m) => m.name === '[vdso]'), ...maps.filter((m) => m.prot.includes('x') && m.name !== '[vdso]' && m.name !== '[vsyscall]')];
  for (const m of order) {
    if (!m.prot.includes('r') || !m.prot.includes('x')) continue;
    const len = Number(m.end - m.start > 1n << 20n ? 1n << 20n : m.end - m.start);
    const b = Buffer.alloc(len);
    const n = Number(s.vm_read(pid, m.start, b, len));
    if (n <= 0) continue;
    for (let i = 0; i + 1 < n; i++) if (b[i] === 0x0f && b[i + 1] === 0x05) return { addr: m.start + BigInt(i), poke: false };
  }
  const x = maps.find((m) => m.prot.includes('x') && m.name !== '[vsyscall]');
  if (!x) throw new TscrError('E_DUMP', `process ${pid} has no executable mapping to run a syscall from`, { pid });
  return { addr: x.start, poke: true };
}
