// Per-process and per-thread state -> core-PID.img entries (crit JSON shape):
// registers (gpregs incl. fs/gs base, fpregs + xsave), task_core (sigactions,
// timers, rlimits, blocked/pending signals, personality, comm, creds) and
// thread_core (sas, robust list, rseq, creds, blocked mask, pending signals).
import { readFileSync } from 'node:fs';
import { Tracee, REG_NAMES, SYS, type Regs } from '../ptrace.ts';
import { status, stat, posixTimers, readProc, sigmask } from '../proc.ts';
import { ptraceShimRaw } from '../../shim/native.ts';
import type { Injector } from './inject.ts';
import { TscrError } from '../errors.ts';

const hex = (v: bigint | number) => '0x' + BigInt.asUintN(64, BigInt(v)).toString(16);
/** A u64 as a JSON number when exact, else a BigInt (the image API's convention). */
export const u64 = (v: bigint): number | bigint => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

const ERESTARTSYS = -512n, ERESTARTNOINTR = -513n, ERESTARTNOHAND = -514n, ERESTART_RESTARTBLOCK = -516n, EINTR = -4n;

/** Registers as the image stores them: a thread stopped in an interrupted
 * syscall is rewound to re-issue it (as CRIU does). The live thread is not changed. */
export function normalizeRegs(r: Regs): Regs {
  const o = { ...r };
  const ax = BigInt.asIntN(64, r.ax);
  if (BigInt.asIntN(64, r.orig_ax) >= 0n) {
    if (ax === ERESTARTSYS || ax === ERESTARTNOINTR || ax === ERESTARTNOHAND) { o.ax = r.orig_ax; o.ip = r.ip - 2n; }
    else if (ax === ERESTART_RESTARTBLOCK) o.ax = BigInt.asUintN(64, EINTR);
  }
  return o;
}

export function gpregsEntry(r: Regs): any {
  const g: any = {};
  for (const n of REG_NAMES) g[n] = hex(r[n]);
  g.mode = 'NATIVE';
  return g;
}

function u32s(b: Buffer, off: number, n: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(b.readUInt32LE(off + 4 * i));
  return a;
}

/** Standard-format xsave component offsets/sizes of this CPU (CPUID leaf 0xd). */
let xlayout: Map<number, { off: number; size: number }> | null = null;
export function xsaveLayout(): Map<number, { off: number; size: number }> {
  if (xlayout) return xlayout;
  xlayout = new Map();
  const o = new Uint32Array(4);
  const s = ptraceShimRaw();
  for (let i = 2; i < 32; i++) {
    s.cpuid(0xd, i, o);
    if (o[0] && !(o[2] & 1)) xlayout.set(i, { off: o[1], size: o[0] }); // user (not supervisor) components
  }
  return xlayout;
}

function u64s(b: Buffer, off: number, n: number): (number | bigint)[] {
  const a: (number | bigint)[] = [];
  for (let i = 0; i < n; i++) a.push(u64(b.readBigUInt64LE(off + 8 * i)));
  return a;
}

/** NT_X86_XSTATE buffer -> user_x86_fpregs_entry (fxsave fields + xsave components
 * at this CPU's offsets: AVX, AVX-512 opmask/ZMM, PKRU). */
export function fpregsEntry(x: Buffer): any {
  const fp: any = {
    cwd: x.readUInt16LE(0), swd: x.readUInt16LE(2), twd: x.readUInt16LE(4), fop: x.readUInt16LE(6),
    rip: u64(x.readBigUInt64LE(8)), rdp: u64(x.readBigUInt64LE(16)),
    mxcsr: x.readUInt32LE(24), mxcsr_mask: x.readUInt32LE(28),
    st_space: u32s(x, 32, 32), xmm_space: u32s(x, 160, 64),
  };
  if (x.length >= 576) {
    const bv = x.readBigUInt64LE(512);
    const xs: any = { xstate_bv: u64(bv) };
    const L = xsaveLayout();
    const comp = (i: number) => { const c = L.get(i); return c && c.off + c.size <= x.length ? c : null; };
    const ymm = comp(2) ?? (x.length >= 832 ? { off: 576, size: 256 } : null);
    if (ymm) xs.ymmh_space = u32s(x, ymm.off, 64);
    let c;
    if ((c = comp(5))) xs.opmask_reg = u64s(x, c.off, 8);
    if ((c = comp(6))) xs.zmm_upper = u64s(x, c.off, 64);
    if ((c = comp(7))) xs.hi16_zmm = u64s(x, c.off, 128);
    if ((c = comp(9))) xs.pkru = u32s(x, c.off, 2);
    xs.cet = { cet: '0x0', ssp: '0x0' };
    fp.xsave = xs;
  }
  return fp;
}

const EMPTY_TLS = [12, 13, 14].map((n) => ({
  entry_number: n, base_addr: 0, limit: 0, seg_32bit: false, contents_h: false, contents_l: false,
  read_exec_only: true, limit_in_pages: false, seg_not_present: true, usable: false,
}));

function capPair(hexs: string | undefined): number[] {
  const v = sigmask(hexs);
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

export function credsEntry(pid: number, tid: number, secbits: number): any {
  const s = status(pid, tid);
  const uid = (s.Uid ?? '0 0 0 0').split(/\s+/).map(Number);
  const gid = (s.Gid ?? '0 0 0 0').split(/\s+/).map(Number);
  const c: any = {
    uid: uid[0], gid: gid[0], euid: uid[1], egid: gid[1], suid: uid[2], sgid: gid[2], fsuid: uid[3], fsgid: gid[3],
    cap_inh: capPair(s.CapInh), cap_prm: capPair(s.CapPrm), cap_eff: capPair(s.CapEff), cap_bnd: capPair(s.CapBnd),
    secbits,
  };
  const groups = (s.Groups ?? '').split(/\s+/).filter(Boolean).map(Number);
  if (groups.length) c.groups = groups;
  if (Number(s.NoNewPrivs ?? 0)) c.no_new_privs = 1;
  c.cap_amb = capPair(s.CapAmb);
  return c;
}

/** Pending signals of one queue (thread or shared) as siginfo_entry list. */
function pendingSignals(t: Tracee, shared: boolean): any {
  const s = ptraceShimRaw();
  const out: any[] = [];
  const buf = Buffer.alloc(128 * 32);
  for (let off = 0; ; ) {
    const n = s.peeksiginfo(t.tid, shared ? 1 : 0, off, 32, buf);
    if (n <= 0) break;
    for (let i = 0; i < n; i++) out.push({ siginfo: buf.subarray(i * 128, (i + 1) * 128).toString('base64') });
    off += n;
    if (n < 32) break;
  }
  return out.length ? { signals: out } : {};
}

export interface ThreadState {
  t: Tracee;
  regs: Regs;
  xstate: Buffer;
  blocked: bigint;
  sas: { ss_sp: bigint; ss_size: bigint; ss_flags: number };
  robust: { head: bigint; len: number };
  clearTid: bigint;
  pdeathSig: number;
}

/** Thread state that needs injection (sigaltstack, robust list, clear_tid address). */
export function threadState(inj: Injector, t: Tracee, pid: number): ThreadState {
  const regs = t.getRegs();
  const xstate = t.getXstate();
  const st = status(pid, t.tid);
  const blocked = sigmask(st.SigBlk);
  const a = inj.scratch;
  inj.clear(64);
  const r1 = inj.sys(SYS.sigaltstack, [0, a], t);
  const ssb = inj.read(24);
  const sas = r1 === 0n
    ? { ss_sp: ssb.readBigUInt64LE(0), ss_flags: ssb.readInt32LE(8), ss_size: ssb.readBigUInt64LE(16) }
    : { ss_sp: 0n, ss_flags: 2, ss_size: 0n };
  inj.clear(64);
  const r2 = inj.sys(SYS.get_robust_list, [0, a, a + 8n], t);
  const rb = inj.read(16);
  const robust = r2 === 0n ? { head: rb.readBigUInt64LE(0), len: Number(rb.readBigUInt64LE(8)) } : { head: 0n, len: 0 };
  inj.clear(8);
  const r3 = inj.sys(SYS.prctl, [40 /* PR_GET_TID_ADDRESS */, a, 0, 0, 0], t);
  const clearTid = r3 === 0n ? inj.read(8).readBigUInt64LE(0) : 0n;
  inj.clear(4);
  const r4 = inj.sys(SYS.prctl, [2 /* PR_GET_PDEATHSIG */, a, 0, 0, 0], t);
  const pdeathSig = r4 === 0n ? inj.read(4).readInt32LE(0) : 0;
  return { t, regs, xstate, blocked, sas, robust, clearTid, pdeathSig };
}

export interface ProcState {
  sigactions: any[];
  itimers: any;
  posix: any[];
  brk: bigint;
  secbits: number;
  dumpable: number;
  thpDisabled: boolean;
  subreaper: boolean;
  threads: ThreadState[];
}

/** Process-wide state by injection (sigactions, itimers, POSIX timers, brk, prctl bits). */
export function procState(inj: Injector, pid: number, threads: Tracee[]): ProcState {
  const a = inj.scratch;
  const sigactions: any[] = [];
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === 9 || sig === 19) continue;
    inj.clear(32);
    const r = inj.sys(SYS.rt_sigaction, [sig, 0, a, 8]);
    if (r !== 0n) throw new TscrError('E_DUMP', `reading the handler of signal ${sig} of process ${pid} failed (errno ${-r})`, { pid });
    const b = inj.read(32);
    sigactions.push({ sigaction: hex(b.readBigUInt64LE(0)), flags: hex(b.readBigUInt64LE(8)), restorer: hex(b.readBigUInt64LE(16)), mask: hex(b.readBigUInt64LE(24)), compat_sigaction: false });
  }
  const it = (which: number) => {
    inj.clear(32);
    const r = inj.sys(SYS.getitimer, [which, a]);
    if (r !== 0n) throw new TscrError('E_DUMP', `getitimer(${which}) in process ${pid} failed (errno ${-r})`, { pid });
    const b = inj.read(32);
    return { isec: u64(b.readBigUInt64LE(0)), iusec: u64(b.readBigUInt64LE(8)), vsec: u64(b.readBigUInt64LE(16)), vusec: u64(b.readBigUInt64LE(24)) };
  };
  const itimers = { real: it(0), virt: it(1), prof: it(2) };
  const posix: any[] = [];
  for (const pt of posixTimers(pid)) {
    inj.clear(32);
    const r = inj.sys(SYS.timer_gettime, [pt.id, a]);
    if (r !== 0n) throw new TscrError('E_DUMP', `timer_gettime(${pt.id}) in process ${pid} failed (errno ${-r})`, { pid });
    const b = inj.read(32);
    const ov = inj.sys(SYS.timer_getoverrun, [pt.id]);
    const notify = pt.notify === 'thread' ? 4 : pt.notify === 'none' ? 1 : 0;
    const e: any = {
      it_id: pt.id, clock_id: pt.clock, si_signo: pt.signal, it_sigev_notify: notify, sival_ptr: u64(pt.sigval),
      overrun: Number(ov < 0n ? 0n : ov),
      isec: u64(b.readBigUInt64LE(0)), insec: u64(b.readBigUInt64LE(8)), vsec: u64(b.readBigUInt64LE(16)), vnsec: u64(b.readBigUInt64LE(24)),
    };
    if (notify === 4) e.notify_thread_id = pt.notifyTid;
    posix.push(e);
  }
  const brk = BigInt.asUintN(64, inj.sys(12 /* brk */, [0]));
  const secbits = Number(inj.sys(SYS.prctl, [27 /* PR_GET_SECUREBITS */, 0, 0, 0, 0]));
  const dumpable = Number(inj.sys(SYS.prctl, [3 /* PR_GET_DUMPABLE */, 0, 0, 0, 0]));
  const thp = Number(inj.sys(SYS.prctl, [42 /* PR_GET_THP_DISABLE */, 0, 0, 0, 0]));
  inj.clear(4);
  inj.sys(SYS.prctl, [37 /* PR_GET_CHILD_SUBREAPER */, a, 0, 0, 0]);
  const subreaper = inj.read(4).readInt32LE(0) !== 0;
  const ts = threads.map((t) => threadState(inj, t, pid));
  return { sigactions, itimers, posix, brk, secbits: secbits < 0 ? 0 : secbits, dumpable: dumpable < 0 ? 1 : dumpable, thpDisabled: thp > 0, subreaper, threads: ts };
}

/** The 16 rlimits, from /proc/PID/limits (listed in RLIMIT_* order); prlimit as fallback. */
function rlimits(pid: number): any {
  const INF = (1n << 64n) - 1n;
  try {
    const lines = readProc(pid, 'limits').split('\n').slice(1).filter(Boolean);
    if (lines.length >= 16) {
      return { rlimits: lines.slice(0, 16).map((l) => {
        const cols = l.slice(26).trim().split(/\s+/);
        const v = (x: string) => (x === 'unlimited' ? INF : BigInt(x));
        return { cur: u64(v(cols[0])), max: u64(v(cols[1])) };
      }) };
    }
  } catch { /* fall back */ }
  const out: any[] = [];
  const b = new BigUint64Array(2);
  for (let r = 0; r < 16; r++) {
    const rc = ptraceShimRaw().getrlimit(pid, r, b);
    if (rc < 0) throw new TscrError('E_DUMP', `reading rlimit ${r} of process ${pid} failed (errno ${-rc})`, { pid });
    out.push({ cur: u64(b[0]), max: u64(b[1]) });
  }
  return { rlimits: out };
}

function readNum(pid: number, name: string, dflt: number): number {
  try { return Number(readFileSync(`/proc/${pid}/${name}`, 'utf8').trim()); } catch { return dflt; }
}

/** core-TID.img entries for every thread of a process; the leader's carries task_core. */
export function coreEntries(pid: number, ps: ProcState): Map<number, any> {
  const out = new Map<number, any>();
  const st = stat(pid);
  const personality = parseInt(readProc(pid, 'personality').trim(), 16) || 0;
  const leaderStatus = status(pid);
  for (const th of ps.threads) {
    const tid = th.t.tid;
    const leader = tid === pid;
    const tst = stat(pid, tid);
    const comm = readProc(pid, `task/${tid}/comm`).replace(/\n$/, '');
    const regs = normalizeRegs(th.regs);
    const rseq = th.t.getRseq();
    const thread_core: any = {
      futex_rla: u64(th.robust.head), futex_rla_len: th.robust.len,
      sched_nice: Number(tst.f[16]), sched_policy: Number(tst.f[38]),
    };
    if (Number(tst.f[37])) thread_core.sched_prio = Number(tst.f[37]);
    if (!leader) thread_core.blk_sigset = u64(th.blocked);
    thread_core.sas = { ss_sp: u64(th.sas.ss_sp), ss_size: u64(th.sas.ss_size), ss_flags: th.sas.ss_flags };
    if (th.pdeathSig) thread_core.pdeath_sig = th.pdeathSig;
    thread_core.signals_p = pendingSignals(th.t, false);
    // signals that arrived while tscr held the thread (it re-sends them on detach): pending too
    for (const sig of th.t.pendingSigs) {
      const si = Buffer.alloc(128);
      si.writeInt32LE(sig, 0);
      si.writeInt32LE(-6 /* SI_TKILL */, 8);
      (thread_core.signals_p.signals ??= []).push({ siginfo: si.toString('base64') });
    }
    thread_core.creds = credsEntry(pid, tid, ps.secbits);
    thread_core.comm = comm;
    if (rseq.ptr) thread_core.rseq_entry = { rseq_abi_pointer: u64(rseq.ptr), rseq_abi_size: rseq.size, signature: rseq.sig };
    thread_core.cg_set = 1;
    const core: any = {
      mtype: 'X86_64',
      thread_info: { clear_tid_addr: hex(th.clearTid), gpregs: gpregsEntry(regs), fpregs: fpregsEntry(th.xstate), tls: EMPTY_TLS },
    };
    if (leader) {
      core.tc = {
        // 3 is CRIU's TASK_STOPPED (crit mislabels 3 'Zombie' and 6 'Stopped': write the number)
        task_state: th.t.stopSig ? 3 : 'Alive', exit_code: 0, personality, flags: Number(st.f[6]),
        blk_sigset: hex(th.blocked), comm,
        timers: { ...ps.itimers, ...(ps.posix.length ? { posix: ps.posix } : {}) },
        rlimits: rlimits(pid),
        signals_s: pendingSignals(th.t, true),
        loginuid: readNum(pid, 'loginuid', 4294967295),
        oom_score_adj: readNum(pid, 'oom_score_adj', 0),
        sigactions: ps.sigactions,
        child_subreaper: ps.subreaper,
      };
      if (th.t.stopSig) core.tc.stop_signo = th.t.stopSig;
      void leaderStatus;
    }
    core.thread_core = thread_core;
    out.set(tid, core);
  }
  return out;
}
