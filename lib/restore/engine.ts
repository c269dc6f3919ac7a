// The restore engine: carries out the plan (lib/restore/plan.ts) on real
// processes by syscall injection into stub processes.
//
// Every process starts as build/tscr-stub, made by the shim with clone3 and
// set_tid (the root by tscr itself, children by an injected clone3 in their
// parent's stub), and is held in ptrace stops by this thread until the plan
// says `start`. All ptrace calls happen on the thread that calls restore():
// run it on one thread (the CLI's main thread, or the tracer worker).
//
// On any failure every process made so far is killed and reaped, and the
// error says what failed.
import { openSync, closeSync, readFileSync, existsSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { setPriority as osSetPriority } from 'node:os';
import { TscrError, isTscrError } from '../errors.ts';
import { STUB_BIN } from '../paths.ts';
import { Checkpoint, big, num, flagSet } from './checkpoint.ts';
import { buildPlan, type PlanOp, type PlanProc } from './plan.ts';
import { restoreNative, check, ptraceShimRaw, type RestoreShim } from '../../shim/native.ts';
import { kindForType, kinds } from '../kinds/index.ts';
import { shmemFdForVma } from '../kinds/shmem.ts';
import { fillFromArchive } from '../archive-restore.ts';
import { resolveParentPages } from './parent-pages.ts';
import { xsaveLayout } from '../dump/task.ts';

// x86_64 syscall numbers
const NR = {
  read: 0, write: 1, pread64: 17, close: 3, lseek: 8, mmap: 9, mprotect: 10, munmap: 11, rt_sigaction: 13, mremap: 25,
  madvise: 28, setitimer: 38, wait4: 61, fcntl: 72, chdir: 80, umask: 95, setpgid: 109, setsid: 112, setgroups: 116,
  setresuid: 117, setresgid: 119, setfsuid: 122, setfsgid: 123, capset: 126, rt_sigqueueinfo: 129, sigaltstack: 131, personality: 135, prctl: 157,
  chroot: 161, set_tid_address: 218, timer_create: 222, timer_settime: 223, openat: 257, set_robust_list: 273, rt_tgsigqueueinfo: 297, dup3: 292,
  pipe2: 293, seccomp: 317, rseq: 334, pidfd_open: 434, clone3: 435, close_range: 436, pidfd_getfd: 438,
} as const;

const PAGE = 4096;
const PROT: Record<string, number> = { PROT_READ: 1, PROT_WRITE: 2, PROT_EXEC: 4 };
const MAP: Record<string, number> = { MAP_SHARED: 1, MAP_PRIVATE: 2, MAP_FIXED: 0x10, MAP_ANON: 0x20, MAP_GROWSDOWN: 0x100, MAP_NORESERVE: 0x4000 };
const O: Record<string, number> = {
  O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_CREAT: 0o100, O_EXCL: 0o200, O_NOCTTY: 0o400, O_TRUNC: 0o1000,
  O_APPEND: 0o2000, O_NONBLOCK: 0o4000, O_DSYNC: 0o10000, FASYNC: 0o20000, O_DIRECT: 0o40000,
  O_LARGEFILE: 0o100000, O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000, O_NOATIME: 0o1000000, O_CLOEXEC: 0o2000000,
  O_SYNC: 0o4010000, O_PATH: 0o10000000, O_TMPFILE: 0o20200000,
};
const O_CLOEXEC = 0o2000000;
const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800, CLONE_THREAD = 0x10000, CLONE_SYSVSEM = 0x40000;
const SIGCHLD = 17;
const NT_X86_XSTATE = 0x202;

export interface RestoreOptions {
  dir: string;
  shellJob?: boolean;
  tcpEstablished?: boolean;
  extUnixSk?: boolean;
  log?: (level: 1 | 2 | 3 | 4, text: string) => void;
  progress?: (done: number, total: number) => void;
  /** Keep the tree stopped under ptrace at the end instead of starting it (tests). */
  stubPath?: string;
  /** Pages from a tscr archive instead of pages-N.img files (lib/archive-restore.ts). */
  pages?: import('../archive-restore.ts').PageSourceHook;
}

export interface RestoreResult {
  root: number;
  pids: number[];
  threads: number;
  bytes: number;
  ms: { total: number; tree: number; memory: number; rest: number };
}

interface Thread { tid: number; core: any; deferredSig: number }

interface Proc {
  pid: number;
  ppid: number;
  entry: any;                 // pstree entry
  threads: Thread[];          // [0] is the main thread
  core: any;
  mm: any | null;
  ids: any;
  gadget: bigint;             // address of a `syscall; int3`
  scratch: bigint;            // scratch area for syscall arguments (0: none yet)
  scratchSize: number;
  made: boolean;
  keep: number[];             // temporary fds kept for passing (closed at fds-done)
  zombie?: boolean;           // dead, kept unreaped by its parent
  stopped?: boolean;          // in a group stop (SIGSTOP) at dump time: starts stopped
  lateFds?: PlanOp[];         // epoll fds: restored after every other fd of the process (they name other fds)
  maxFd: number;
}

/** Files opened in tscr for shared objects (pipes): keyed by pipe id. */
interface PipeHold { pid: number; rfd: number; wfd: number }

const SLEEP = new Int32Array(new SharedArrayBuffer(4));
function isZombie(pid: number): boolean {
  try { return /\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

/** RLIMIT_NOFILE of a process (soft, hard), from /proc/PID/limits. */
function nofileOf(pid: number): [bigint, bigint] {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    const v = (x: string) => (x === 'unlimited' ? 0xffffffffffffffffn : BigInt(x));
    if (m) return [v(m[1]), v(m[2])];
  } catch { /* gone */ }
  return [0n, 0n];
}

const u64le = (b: Buffer, off: number, v: bigint) => b.writeBigUInt64LE(BigInt.asUintN(64, v), off);

class Engine {
  readonly ck: Checkpoint;
  readonly opts: RestoreOptions;
  private shim: RestoreShim | null = null;
  get sh(): RestoreShim { return (this.shim ??= restoreNative()); }
  readonly procs = new Map<number, Proc>();
  readonly order: Proc[] = [];
  readonly made: number[] = [];     // every pid/tid we created, in creation order
  readonly out = Buffer.alloc(24);
  readonly argb = Buffer.alloc(48);
  readonly pipes = new Map<string, PipeHold>();
  readonly ghosts: string[] = [];
  bytes = 0;
  hole = 0n;
  holeSize = 0;
  stubGadget = 0n;

  constructor(opts: RestoreOptions) {
    this.opts = opts;
    this.ck = new Checkpoint(opts.dir);
  }

  log(level: 1 | 2 | 3 | 4, s: string) { this.opts.log?.(level, s); }

  // ---- syscall injection --------------------------------------------------
  sysRaw(tid: number, gadget: bigint, nr: number, args: Array<number | bigint>): bigint {
    this.argb.fill(0);
    args.forEach((a, i) => this.argb.writeBigInt64LE(BigInt.asIntN(64, BigInt(a)), i * 8));
    const rc = this.sh.syscall(tid, gadget, nr, this.argb, this.out);
    check(rc, `injecting syscall ${nr} into ${tid}`, { pid: tid }, 'E_PTRACE');
    const sig = Number(this.out.readBigInt64LE(16));
    if (sig) {
      const t = this.threadOf(tid);
      if (t) t.deferredSig = sig;
    }
    return this.out.readBigInt64LE(0);
  }

  /** Inject syscall `nr` into thread `tid` of process `p`; throws on -errno unless `ok` accepts it. */
  sys(p: Proc, nr: number, args: Array<number | bigint>, what: string, tid = p.pid, ok?: (e: number) => boolean): bigint {
    const r = this.sysRaw(tid, p.gadget, nr, args);
    if (r < 0n && r > -4096n) {
      const e = Number(-r);
      if (ok && ok(e)) return r;
      check(-e, what, { pid: p.pid });
    }
    return r;
  }

  lastNewTask(): number { return Number(this.out.readBigInt64LE(8)); }

  threadOf(tid: number): Thread | undefined {
    for (const p of this.procs.values()) for (const t of p.threads) if (t.tid === tid) return t;
    return undefined;
  }

  write(p: Proc, addr: bigint, data: Buffer) {
    const n = this.sh.vmWrite(p.pid, addr, data, data.length);
    check(Number(n), `writing ${data.length} bytes into pid ${p.pid} at 0x${addr.toString(16)}`, { pid: p.pid });
  }

  /** Put bytes in the scratch area (at offset `off`) and return their address. */
  scratchPut(p: Proc, data: Buffer, off = 0): bigint {
    if (!p.scratch) throw new TscrError('E_INTERNAL', `pid ${p.pid} has no scratch area yet`);
    if (off + data.length > p.scratchSize) throw new TscrError('E_INTERNAL', `scratch overflow (${data.length} bytes) in pid ${p.pid}`);
    const a = p.scratch + BigInt(off);
    this.write(p, a, data);
    return a;
  }
  cstr(s: string): Buffer { return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]); }

  // ---- loading ------------------------------------------------------------
  load(): PlanOp[] {
    const pstree = this.ck.image('pstree', 'PSTREE').entries;
    if (!pstree.length) throw new TscrError('E_CORRUPT', 'pstree.img has no processes', { file: join(this.ck.dir, 'pstree.img'), kind: 'PSTREE' });
    const planProcs: PlanProc[] = [];
    for (const e of pstree) {
      const pid = num(e.pid);
      const tids: number[] = (e.threads ?? [pid]).map(num);
      const core = this.ck.entry(`core-${pid}`, 'CORE');
      const state = core.tc?.task_state;
      // CRIU's task states (compel/include/uapi/task-state.h): 1 alive, 2 dead (how CRIU
      // records a zombie), 3 stopped, 6 zombie. crit's names for them are off: it prints
      // 3 as 'Zombie' and 6 as 'Stopped'; the JSON shape follows crit, so go by the numbers.
      const zombie = state === 2 || state === 6 || state === 'Stopped' || state === 'Dead';
      const stopped = state === 3 || state === 'Zombie';
      if (state !== undefined && state !== 'Alive' && state !== 1 && !zombie && !stopped) {
        throw new TscrError('E_UNSUPPORTED', `pid ${pid} is a ${typeof state === 'number' ? `state-${state}` : String(state).toLowerCase()} task; tscr restores live, stopped and zombie tasks so far`, { pid });
      }
      if (zombie) tids.splice(0, tids.length, pid); // a zombie has no threads (CRIU leaves junk there)
      const threads: Thread[] = tids.map((tid) => ({ tid, core: tid === pid ? core : this.ck.entry(`core-${tid}`, 'CORE'), deferredSig: 0 }));
      if (threads[0].tid !== pid) {
        const i = threads.findIndex((t) => t.tid === pid);
        if (i < 0) throw new TscrError('E_INCONSISTENT', `pstree entry of pid ${pid} does not list its main thread`, { pid, kind: 'PSTREE' });
        threads.unshift(...threads.splice(i, 1));
      }
      const ids = this.ck.tryImage(`ids-${pid}`)?.entries[0] ?? {};
      const mm = this.ck.tryImage(`mm-${num(ids.vm_id ?? pid)}`)?.entries[0] ?? this.ck.tryImage(`mm-${pid}`)?.entries[0] ?? null;
      const p: Proc = {
        pid, ppid: num(e.ppid), entry: e, threads, core, mm: zombie ? null : mm, ids, gadget: 0n, scratch: 0n, scratchSize: 0,
        made: false, keep: [], maxFd: -1, zombie, stopped,
      };
      this.procs.set(pid, p);
      const fdinfo = zombie ? [] : this.fdinfo(p);
      for (const f of fdinfo) p.maxFd = Math.max(p.maxFd, num(f.fd));
      planProcs.push({
        pid, ppid: p.ppid, pgid: num(e.pgid), sid: num(e.sid), zombie, tids: threads.map((t) => t.tid),
        vmas: (mm?.vmas ?? []).map((v: any) => [big(v.start), big(v.end)] as [bigint, bigint]).filter(([s]: [bigint, bigint]) => s < 0x800000000000n),
        fds: fdinfo.map((f: any) => [num(f.fd), num(f.id)] as [number, number]),
      });
    }
    return buildPlan(planProcs, { shellJob: this.opts.shellJob });
  }

  /** Words for --dry-run: what an op will touch. */
  detailOf(op: PlanOp): string | undefined {
    const p = this.procs.get(op.pid);
    if (!p) return undefined;
    if (op.op === 'mm' && p.mm) {
      const pm = this.ck.tryImage(`pagemap-${p.pid}`)?.entries ?? [];
      let pages = 0n;
      for (const e of pm.slice(1)) if (!e.flags || flagSet(e.flags).has('PE_PRESENT')) pages += big(e.nr_pages ?? 0);
      const files = new Set<string>();
      for (const v of p.mm.vmas ?? []) { const st = flagSet(v.status); if (st.has('VMA_FILE_PRIVATE') || st.has('VMA_FILE_SHARED')) { try { files.add(this.pathOf(num(v.shmid))); } catch { /* */ } } }
      return `${(p.mm.vmas ?? []).length} VMAs, ${pages} pages (${(Number(pages) / 256).toFixed(1)} MiB)${files.size ? `, maps ${[...files].join(', ')}` : ''}`;
    }
    if (op.op === 'fd') {
      const f = this.ck.file(op.b);
      const info = this.fdinfo(p).find((x: any) => num(x.fd) === op.a);
      const what = f.reg ? `${f.reg.name}${f.reg.pos ? ` at offset ${num(f.reg.pos)}` : ''}${this.ghostOf(op.b) ? ' (deleted: ghost file)' : ''}` : String(f.type).toLowerCase();
      return `${what}${num(info?.flags ?? 0) & 1 ? ', close-on-exec' : ''}`;
    }
    if (op.op === 'fs') {
      const e = (this.ck.tryImage(`fs-${p.pid}`) ?? this.ck.tryImage(`fs-${num(p.ids.fs_id ?? p.pid)}`))?.entries[0];
      if (e?.cwd_id !== undefined) return `cwd ${this.pathOf(num(e.cwd_id))}, umask ${num(e.umask ?? 0).toString(8)}`;
    }
    if (op.op === 'fork') return `${p.core.tc?.comm ?? ''}`.trim() || undefined;
    return undefined;
  }

  fdinfo(p: Proc): any[] {
    const id = p.ids.files_id !== undefined ? num(p.ids.files_id) : p.pid;
    return this.ck.tryImage(`fdinfo-${id}`)?.entries ?? [];
  }

  /** Checks before touching anything: pids free, files present. */
  preflight() {
    for (const p of this.procs.values()) {
      for (const t of p.threads) {
        // A zombie holds its pid until its parent (often init) reaps it: give that a few seconds.
        for (let i = 0; i < 100 && !this.sh.pidFree(t.tid) && isZombie(t.tid); i++) Atomics.wait(SLEEP, 0, 0, 50);
        if (!this.sh.pidFree(t.tid)) {
          let who = '';
          try { who = readFileSync(`/proc/${t.tid}/comm`, 'utf8').trim(); } catch { /* gone */ }
          throw new TscrError('E_RESTORE', `pid ${t.tid} is taken${who ? ` by a running process (${who})` : ''}; the checkpoint needs it`,
            { pid: t.tid, hint: `stop that process (kill ${t.tid}) or restore in a new pid namespace; a just-killed process may hold its pid for a second or two` });
        }
      }
      // Files the address space maps, and the executable.
      for (const v of p.mm?.vmas ?? []) {
        const st = flagSet(v.status);
        if (st.has('VMA_FILE_PRIVATE') || st.has('VMA_FILE_SHARED')) this.needFile(num(v.shmid), p.pid);
      }
      if (p.mm?.exe_file_id !== undefined) this.needFile(num(p.mm.exe_file_id), p.pid, true);
    }
    if (!existsSync(this.opts.stubPath ?? STUB_BIN)) {
      throw new TscrError('E_NO_SHIM', `the restore stub is not built (${this.opts.stubPath ?? STUB_BIN})`, { hint: 'run `npm install` again with a C compiler present' });
    }
  }

  needFile(id: number, pid: number, exe = false) {
    const f = this.ck.file(id);
    const reg = f.reg;
    if (!reg) return;
    if (this.ghostOf(id)) return;
    const name: string = reg.name;
    if (!existsSync(name)) {
      throw new TscrError('E_RESTORE', `file ${name} is missing: pid ${pid} ${exe ? 'runs' : 'maps'} it`,
        { pid, file: name, hint: 'put the file back where it was at dump time (same path and contents) and restore again' });
    }
    if (reg.size !== undefined && exe) {
      const size = statSync(name).size;
      if (size !== num(reg.size)) {
        throw new TscrError('E_RESTORE', `file ${name} has changed since the dump (size ${size}, was ${num(reg.size)})`,
          { pid, file: name, hint: 'restore needs the same executable that was running at dump time' });
      }
    }
  }

  ghostOf(id: number): any | null {
    const r = this.ck.tryImage('remap-fpath')?.entries.find((e: any) => num(e.orig_id) === id);
    if (!r) return null;
    if (r.remap_type && r.remap_type !== 'GHOST' && r.remap_type !== 1) return null;
    const g = this.ck.tryImage(`ghost-file-${num(r.remap_id)}`);
    if (!g) throw new TscrError('E_NOT_FOUND', `ghost file image ghost-file-${num(r.remap_id)}.img is missing`, { file: join(this.ck.dir, `ghost-file-${num(r.remap_id)}.img`) });
    return g.entries[0];
  }

  // ---- ops ----------------------------------------------------------------
  fork(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    let pid: number;
    if (op.a === 0) {
      pid = this.sh.spawn(op.pid, this.opts.stubPath ?? STUB_BIN);
      if (pid < 0) {
        if (pid === -17) throw new TscrError('E_RESTORE', `pid ${op.pid} is taken; the checkpoint needs it`, { pid: op.pid, hint: `stop the process that has it and restore again` });
        if (pid === -1) throw new TscrError('E_RESTORE', `not allowed to create pid ${op.pid}`, { pid: op.pid, hint: 'restoring exact pids needs root (or CAP_CHECKPOINT_RESTORE and CAP_SYS_PTRACE)' });
        if (pid === -8) throw new TscrError('E_RESTORE', `the restore stub ${this.opts.stubPath ?? STUB_BIN} cannot be executed`, { pid: op.pid, hint: 'rebuild it with `npm install`' });
        check(pid, `creating pid ${op.pid}`, { pid: op.pid });
      }
      this.made.push(pid);
      // The stub's gadget: `syscall` two bytes after its entry point.
      const regs = Buffer.alloc(27 * 8);
      check(this.sh.getregs(pid, regs), 'reading the stub registers', { pid });
      this.stubGadget = regs.readBigUInt64LE(16 * 8) + 2n;
      const code = Buffer.alloc(3);
      check(Number(this.sh.vmRead(pid, this.stubGadget, code, 3)), 'reading the stub', { pid });
      if (code[0] !== 0x0f || code[1] !== 0x05) throw new TscrError('E_INTERNAL', `the restore stub ${STUB_BIN} has no syscall gadget at its entry`, { pid, hint: 'rebuild with `npm install`' });
      p.gadget = this.stubGadget;
    } else {
      const parent = this.procs.get(op.a) ?? this.helpers.get(op.a)!;
      const ca = Buffer.alloc(88 + 8);
      u64le(ca, 32, BigInt(SIGCHLD));          // exit_signal
      const tidAddr = parent.scratch + 1024n;
      u64le(ca, 64, tidAddr);                  // set_tid
      u64le(ca, 72, 1n);                       // set_tid_size
      this.scratchPut(parent, ca, 0);
      const tb = Buffer.alloc(4); tb.writeInt32LE(op.pid);
      this.scratchPut(parent, tb, 1024);
      const r = this.sys(parent, NR.clone3, [parent.scratch, 88], `creating pid ${op.pid} in pid ${parent.pid}`, parent.pid, (e) => e === 17);
      if (r === -17n) throw new TscrError('E_RESTORE', `pid ${op.pid} is taken; the checkpoint needs it`, { pid: op.pid, hint: 'stop the process that has it and restore again' });
      pid = Number(r);
      this.made.push(pid);
      if (pid !== op.pid || this.lastNewTask() !== op.pid) throw new TscrError('E_RESTORE', `clone3 made pid ${pid}, wanted ${op.pid}`, { pid: op.pid });
      p.gadget = parent.gadget;
      p.scratch = parent.scratch;
      p.scratchSize = parent.scratchSize;
    }
    p.made = true;
    this.log(2, `made pid ${pid}${op.a ? ` (child of ${op.a})` : ''}`);
  }

  /** Session helpers: stand-ins for session leaders that are gone (see core-as/assembly/plan.ts). */
  readonly helpers = new Map<number, Proc>();

  helper(op: PlanOp, session = true) {
    const parent = this.procs.get(op.a) ?? this.helpers.get(op.a);
    if (!parent) throw new TscrError('E_INTERNAL', `helper ${op.pid}: no parent ${op.a}`);
    const h: Proc = {
      pid: op.pid, ppid: op.a, entry: {}, threads: [{ tid: op.pid, core: {}, deferredSig: 0 }], core: {}, mm: null, ids: {},
      gadget: 0n, scratch: 0n, scratchSize: 0, made: false, keep: [], maxFd: -1,
    };
    this.helpers.set(op.pid, h);
    if (!this.sh.pidFree(op.pid)) {
      throw new TscrError('E_RESTORE', `pid ${op.pid} is taken; the checkpoint needs it for a helper (process ${op.pid} led a session or group and had exited)`, { pid: op.pid, hint: 'stop the process that has it and restore again' });
    }
    this.procs.set(op.pid, h); // fork() looks the child up here
    try { this.fork({ ...op, op: 'fork', a: op.a }); } finally { this.procs.delete(op.pid); }
    if (session) {
      this.sys(h, NR.setsid, [], `setsid in session helper ${op.pid}`);
      (h as any).sessionHelper = true;
    }
  }

  groupHelper(op: PlanOp) {
    this.helper({ ...op, op: 'helper' }, false);
    this.sys(this.helpers.get(op.pid)!, NR.setpgid, [0, 0], `setpgid in group helper ${op.pid}`);
  }

  helperExit(op: PlanOp) {
    const h = this.helpers.get(op.pid)!;
    const q = this.procs.get(op.a) ?? this.helpers.get(op.a)!;
    // the helper's children (a session helper has some) go to q, which must reap the helper
    if ((h as any).sessionHelper) {
      this.sys(q, NR.prctl, [36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0], `making pid ${q.pid} a subreaper`);
      (q as any).madeSubreaper = true;
    }
    this.argb.fill(0);
    const rc = this.sh.syscall(h.pid, h.gadget, 231 /* exit_group */, this.argb, this.out);
    if (rc !== -3 && rc < 0) check(rc, `ending session helper ${h.pid}`, { pid: h.pid }, 'E_PTRACE');
    for (let i = 0; ; i++) {
      const r = this.sys(q, NR.wait4, [h.pid, 0, 1 /* WNOHANG */ | 0x40000000 /* __WALL */, 0], `reaping session helper ${h.pid} in pid ${q.pid}`);
      if (r === BigInt(h.pid)) break;
      if (i > 200) throw new TscrError('E_RESTORE', `session helper ${h.pid} could not be reaped`, { pid: h.pid });
      Atomics.wait(SLEEP, 0, 0, 5);
    }
    this.helpers.delete(h.pid);
    this.log(2, `session helper ${h.pid} made its children and is gone`);
  }

  gadget(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const addr = BigInt(op.a);
    // rwx page(s) for the gadget and scratch; MAP_FIXED_NOREPLACE so nothing of the stub is hit
    const r = this.sys(p, NR.mmap, [addr, op.b, 7, MAP.MAP_PRIVATE | MAP.MAP_ANON | 0x100000, -1, 0], `mapping the restore gadget in pid ${p.pid}`);
    if (r !== addr) throw new TscrError('E_RESTORE', `the gadget landed at 0x${r.toString(16)}, wanted 0x${addr.toString(16)}`, { pid: p.pid });
    this.write(p, addr, Buffer.from([0x0f, 0x05, 0xcc, 0xcc]));
    p.gadget = addr;
    p.scratch = addr + 4096n;
    p.scratchSize = 60 * 1024;
    this.hole = addr;
    this.holeSize = op.b;
  }

  stubMaps(pid: number): Array<{ start: bigint; end: bigint; name: string }> {
    const txt = readFileSync(`/proc/${pid}/maps`, 'utf8');
    return txt.split('\n').filter(Boolean).map((l) => {
      const [range, , , , , ...rest] = l.split(/\s+/);
      const [s, e] = range.split('-');
      return { start: BigInt('0x' + s), end: BigInt('0x' + e), name: rest.join(' ') };
    });
  }

  async mm(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const mm = p.mm;
    if (!mm) throw new TscrError('E_NOT_FOUND', `mm image of pid ${p.pid} is missing`, { pid: p.pid, file: join(this.ck.dir, `mm-${p.pid}.img`) });
    const vmas: any[] = mm.vmas ?? [];
    const st = (v: any) => flagSet(v.status);
    // 1. vDSO block: [vvar] [vvar_vclock] [vdso] of the stub to the image's place.
    const maps = this.stubMaps(p.pid);
    const stubBlock = maps.filter((m) => m.name === '[vvar]' || m.name === '[vvar_vclock]' || m.name === '[vdso]');
    const imgBlock = vmas.filter((v) => st(v).has('VMA_AREA_VDSO') || st(v).has('VMA_AREA_VVAR'));
    const keep: Array<[bigint, bigint]> = [[this.hole, this.hole + BigInt(this.holeSize)]];
    if (imgBlock.length && stubBlock.length) {
      const iLo = imgBlock.reduce((m, v) => (big(v.start) < m ? big(v.start) : m), big(imgBlock[0].start));
      const iHi = imgBlock.reduce((m, v) => (big(v.end) > m ? big(v.end) : m), big(imgBlock[0].end));
      const sLo = stubBlock[0].start, sHi = stubBlock[stubBlock.length - 1].end;
      const iVdso = imgBlock.find((v) => st(v).has('VMA_AREA_VDSO'));
      const sVdso = stubBlock.find((m) => m.name === '[vdso]');
      if (iHi - iLo !== sHi - sLo || !iVdso || !sVdso || big(iVdso.start) - iLo !== sVdso.start - sLo) {
        throw new TscrError('E_RESTORE', `the vDSO layout of this kernel differs from the checkpoint's (pid ${p.pid})`,
          { pid: p.pid, hint: 'restore on the kernel the dump was made on; vDSO trampolines are not implemented yet' });
      }
      if (iLo !== sLo) {
        const overlap = iLo < sHi && iHi > sLo;
        // Through the hole's upper half if the two places overlap.
        const via = this.hole + BigInt(this.holeSize / 2);
        const steps = overlap ? [sLo, via, iLo] : [sLo, iLo];
        for (let s = 1; s < steps.length; s++) {
          const from = steps[s - 1], to = steps[s];
          for (const m of (to === iLo && s > 1 ? stubBlock.slice().reverse() : stubBlock)) {
            const off = m.start - sLo, len = m.end - m.start;
            const r = this.sys(p, NR.mremap, [from + off, len, len, 3 /* MAYMOVE|FIXED */, to + off], `moving the vDSO of pid ${p.pid}`);
            if (r !== to + off) throw new TscrError('E_RESTORE', 'mremap of the vDSO went astray', { pid: p.pid });
          }
        }
      }
      keep.push([iLo, iHi]);
    } else if (stubBlock.length) {
      // the image has no vDSO: drop the stub's with everything else
    }
    // 2. unmap everything else
    keep.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    let cur = 0n;
    const TOP = 0x7ffffffff000n;
    for (const [s, e] of [...keep, [TOP, TOP] as [bigint, bigint]]) {
      if (s > cur) this.sys(p, NR.munmap, [cur, s - cur], `unmapping the stub in pid ${p.pid}`);
      cur = e > cur ? e : cur;
    }
    // 3. map every VMA, writable for now
    const openFiles = new Map<number, number>();
    const fileFd = (id: number, write: boolean): number => {
      const key = write ? -id : id;
      if (openFiles.has(key)) return openFiles.get(key)!;
      const path = this.pathOf(id);
      const a = this.scratchPut(p, this.cstr(path));
      const fd = Number(this.sys(p, NR.openat, [-100, a, (write ? 2 : 0) | O_CLOEXEC, 0], `opening ${path} in pid ${p.pid}`));
      openFiles.set(key, fd);
      return fd;
    };
    const finals: Array<{ start: bigint; len: bigint; prot: number; mapped: number; madv: bigint }> = [];
    for (const v of vmas) {
      const s = st(v);
      if (s.has('VMA_AREA_VSYSCALL') || s.has('VMA_AREA_VDSO') || s.has('VMA_AREA_VVAR')) continue;
      const start = big(v.start), len = big(v.end) - start;
      let prot = 0; for (const f of flagSet(v.prot)) prot |= PROT[f] ?? 0;
      let flags = 0; for (const f of flagSet(v.flags)) flags |= MAP[f] ?? 0;
      flags |= MAP.MAP_FIXED;
      let fd = -1, pgoff = 0n, mapProt = prot | 2;
      let closeAfter = false;
      // shared memory (memfd mappings; MAP_SHARED|MAP_ANONYMOUS, which CRIU 4 records as a memfd file
      // used only by VMAs): one object per inode, filled once, mapped by every holder
      const memfd = s.has('VMA_AREA_MEMFD') || (s.has('VMA_FILE_SHARED') && this.ck.file(num(v.shmid))?.type === 'MEMFD');
      if (memfd || s.has('VMA_ANON_SHARED')) {
        fd = this.shmemFdIn(p, v, memfd); closeAfter = true; pgoff = big(v.pgoff); flags &= ~MAP.MAP_ANON;
        if (s.has('VMA_ANON_SHARED')) flags = (flags & ~MAP.MAP_PRIVATE) | MAP.MAP_SHARED;
        if (flags & MAP.MAP_SHARED) mapProt = prot; // pages come with the memfd
      } else if (s.has('VMA_FILE_PRIVATE')) {
        fd = fileFd(num(v.shmid), false); pgoff = big(v.pgoff); flags &= ~MAP.MAP_ANON;
      } else if (s.has('VMA_FILE_SHARED')) {
        const w = (prot & 2) !== 0;
        fd = fileFd(num(v.shmid), w); pgoff = big(v.pgoff); flags &= ~MAP.MAP_ANON; mapProt = prot;
      } else {
        flags |= MAP.MAP_ANON; flags &= ~MAP.MAP_SHARED; flags |= MAP.MAP_PRIVATE;
      }
      const r = this.sys(p, NR.mmap, [start, len, mapProt, flags, fd, pgoff], `mapping VMA 0x${start.toString(16)}-0x${big(v.end).toString(16)} in pid ${p.pid}`);
      if (closeAfter) this.sys(p, NR.close, [fd], 'close');
      if (r !== start) throw new TscrError('E_RESTORE', `VMA 0x${start.toString(16)} landed at 0x${r.toString(16)}`, { pid: p.pid });
      finals.push({ start, len, prot, mapped: mapProt, madv: big(v.madv ?? 0) });
    }
    // 4. pages
    this.fillPages(p);
    // 5. final protections, madvise
    for (const f of finals) {
      if (f.prot !== f.mapped) this.sys(p, NR.mprotect, [f.start, f.len, f.prot], `protecting 0x${f.start.toString(16)} in pid ${p.pid}`);
      for (let b = 0n; b < 64n; b++) {
        if ((f.madv >> b) & 1n) this.sys(p, NR.madvise, [f.start, f.len, b], `madvise ${b} on 0x${f.start.toString(16)} in pid ${p.pid}`, p.pid, () => true);
      }
    }
    // 6. mm fields, auxv, exe file
    // the exe first: its path goes through the scratch area too
    let exeFd = -1;
    if (mm.exe_file_id !== undefined) exeFd = fileFd(num(mm.exe_file_id), false);
    const auxv: any[] = mm.mm_saved_auxv ?? [];
    const ab = Buffer.alloc(auxv.length * 8);
    auxv.forEach((x, i) => u64le(ab, i * 8, big(x)));
    const auxAddr = this.scratchPut(p, ab, 2048);
    const m = Buffer.alloc(104);
    const fields = ['mm_start_code', 'mm_end_code', 'mm_start_data', 'mm_end_data', 'mm_start_brk', 'mm_brk', 'mm_start_stack', 'mm_arg_start', 'mm_arg_end', 'mm_env_start', 'mm_env_end'];
    fields.forEach((k, i) => u64le(m, i * 8, big(mm[k])));
    u64le(m, 88, auxAddr);
    m.writeUInt32LE(ab.length, 96);
    m.writeInt32LE(exeFd, 100);
    const ma = this.scratchPut(p, m, 1024);
    this.sys(p, NR.prctl, [35 /* PR_SET_MM */, 14 /* PR_SET_MM_MAP */, ma, 104, 0], `setting the mm fields (PR_SET_MM_MAP) of pid ${p.pid}`);
    if (mm.dumpable !== undefined && num(mm.dumpable) !== 1) this.sys(p, NR.prctl, [4 /* PR_SET_DUMPABLE */, num(mm.dumpable), 0, 0, 0], 'prctl(PR_SET_DUMPABLE)');
    if (mm.thp_disabled) this.sys(p, NR.prctl, [41 /* PR_SET_THP_DISABLE */, 1, 0, 0, 0], 'prctl(PR_SET_THP_DISABLE)');
    for (const fd of new Set(openFiles.values())) this.sys(p, NR.close, [fd], 'close');
  }

  pathOf(id: number): string {
    const f = this.ck.file(id);
    if (!f.reg) throw new TscrError('E_UNSUPPORTED', `file ${id} is a ${f.type}, not a regular file`, { kind: 'FILES' });
    return f.reg.name;
  }

  fillPages(p: Proc) {
    const pm = this.ck.tryImage(`pagemap-${p.pid}`);
    if (!pm) return;
    const [head, ...ents] = pm.entries;
    const pagesId = num(head?.pages_id ?? 0);
    const runs: bigint[] = [];
    const inParent: [number, number][] = []; // PE_PARENT: in the parent checkpoint (CRIU's --prev-images-dir)
    let off = 0n;
    // pages of the vDSO/vvar are the kernel's: skip them (their place in pages-N.img still counts)
    const special = (p.mm?.vmas ?? []).filter((v: any) => { const s = flagSet(v.status); return s.has('VMA_AREA_VDSO') || s.has('VMA_AREA_VVAR') || s.has('VMA_AREA_VSYSCALL'); })
      .map((v: any) => [big(v.start), big(v.end)] as [bigint, bigint]);
    for (const e of ents) {
      const fl = flagSet(e.flags);
      const nr = big(e.nr_pages ?? 0) || big(e.compat_nr_pages ?? 0);
      if (fl.has('PE_PARENT') || e.in_parent) {
        if (this.opts.pages) throw new TscrError('E_UNSUPPORTED', 'an archive made from an incremental CRIU directory (PE_PARENT pages) cannot be restored; restore the directory', { pid: p.pid, kind: 'PAGEMAP' });
        inParent.push([Number(big(e.vaddr)), Number(nr) * PAGE]);
        continue;
      }
      if (fl.size && !fl.has('PE_PRESENT')) continue;
      const len = nr * BigInt(PAGE);
      const va = big(e.vaddr);
      if (!special.some(([s, en]: [bigint, bigint]) => va < en && va + len > s)) runs.push(va, off, len);
      off += len;
    }
    if (inParent.length) {
      // resolved down the parent chain before any page is written (a missing page is an error here)
      for (const g of resolveParentPages(this.ck.dir, p.pid, inParent)) this.preadRuns(p, g.path, g.runs);
    }
    if (!runs.length) return;
    if (this.opts.pages) {
      // tscr archive: decoded block by block and written with process_vm_writev (no pages-N.img)
      this.bytes += fillFromArchive(this.opts.pages, `pages-${pagesId}.img`, runs, (va, bytes) => {
        for (let done = 0; done < bytes.length;) {
          const n = Number(this.sh.vmWrite(p.pid, va + BigInt(done), bytes.subarray(done), bytes.length - done));
          check(n, `writing pages into pid ${p.pid} at 0x${(va + BigInt(done)).toString(16)}`, { pid: p.pid });
          if (n === 0) throw new TscrError('E_RESTORE', `no progress writing pages into pid ${p.pid}`, { pid: p.pid });
          done += n;
        }
      });
      return;
    }
    const path = this.ck.pagesPath(pagesId);
    if (!existsSync(path)) throw new TscrError('E_NOT_FOUND', `pages image ${basename(path)} is missing`, { file: path, pid: p.pid, hint: 'the checkpoint is incomplete; dump again' });
    const size = BigInt(statSync(path).size);
    if (size < off) {
      throw new TscrError('E_TRUNCATED', `pages image ${basename(path)} is ${size} bytes but the pagemap of pid ${p.pid} needs ${off}`,
        { file: path, offset: Number(size), pid: p.pid, hint: 'the checkpoint is damaged; dump again' });
    }
    if (process.env.TSCR_FILL === 'vm') {
      const buf = Buffer.alloc(runs.length * 8);
      runs.forEach((r, i) => u64le(buf, i * 8, r));
      const fd = openSync(path, 'r');
      try {
        const n = this.sh.fill(p.pid, fd, buf, runs.length / 3);
        check(Number(n), `filling the memory of pid ${p.pid} from ${basename(path)}`, { pid: p.pid, file: path });
        this.bytes += Number(n);
      } finally {
        closeSync(fd);
      }
      return;
    }
    this.preadRuns(p, path, runs);
  }

  /** Fill memory of p from a pages file: flat triples (vaddr, file offset, length). */
  preadRuns(p: Proc, path: string, runs: bigint[]) {
    // The target reads its own pages: an injected pread64 per run (in 1 GiB
    // steps) copies from the page cache straight into its memory, faulting the
    // pages in its own context, which is far faster than process_vm_writev into
    // memory that is not there yet.
    const fd = Number(this.sys(p, NR.openat, [-100, this.scratchPut(p, this.cstr(path)), O_CLOEXEC, 0], `opening ${path} in pid ${p.pid}`));
    try {
      for (let i = 0; i < runs.length; i += 3) {
        let va = runs[i], off = runs[i + 1], len = runs[i + 2];
        while (len > 0n) {
          const step = len < (1n << 30n) ? len : 1n << 30n;
          const n = this.sys(p, NR.pread64, [fd, va, step, off], `reading pages into pid ${p.pid} at 0x${va.toString(16)}`);
          if (n <= 0n) throw new TscrError('E_TRUNCATED', `pages image ${basename(path)} ends at offset ${off}`, { file: path, offset: Number(off), pid: p.pid, hint: 'the checkpoint is damaged; dump again' });
          va += n; off += n; len -= n;
          this.bytes += Number(n);
        }
      }
    } finally {
      this.sys(p, NR.close, [fd], 'close');
    }
  }

  fs(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const fsId = p.ids.fs_id !== undefined ? num(p.ids.fs_id) : p.pid;
    const fsImg = this.ck.tryImage(`fs-${p.pid}`) ?? this.ck.tryImage(`fs-${fsId}`);
    const e = fsImg?.entries[0];
    if (!e) return;
    if (e.root_id !== undefined) {
      const root = this.pathOf(num(e.root_id));
      if (root !== '/') this.sys(p, NR.chroot, [this.scratchPut(p, this.cstr(root))], `chroot ${root}`);
    }
    if (e.cwd_id !== undefined) {
      const cwd = this.pathOf(num(e.cwd_id));
      this.sys(p, NR.chdir, [this.scratchPut(p, this.cstr(cwd))], `changing directory to ${cwd} in pid ${p.pid}`);
    }
    if (e.umask !== undefined) this.sys(p, NR.umask, [num(e.umask)], 'umask');
  }

  private fdsStarted = new Set<number>();

  async fd(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    if (!this.fdsStarted.has(p.pid)) {
      // drop whatever the stub inherited from tscr
      this.sys(p, NR.close_range, [0, 0xffffffff, 0], 'close_range');
      // room for every fd number of the image and our parked temporaries; the image's own limit comes later
      const need = BigInt(p.maxFd + 256);
      const [soft, hard] = nofileOf(p.pid);
      if (soft < need) {
        const rc = this.sh.prlimit(p.pid, 7 /* RLIMIT_NOFILE */, need, hard > need ? hard : need);
        if (rc < 0) this.log(2, `note: could not raise RLIMIT_NOFILE of pid ${p.pid} to ${need} (errno ${-rc})`);
      }
      this.fdsStarted.add(p.pid);
    }
    const fdNo = op.a, id = op.b;
    const info = this.fdinfo(p).find((f: any) => num(f.fd) === fdNo);
    const cloexec = (num(info?.flags ?? 0) & 1) !== 0;
    let tmp: number;
    if (op.c !== 0) {
      if (op.c === p.pid) {
        tmp = Number(this.sys(p, NR.dup3, [op.d, fdNo, cloexec ? O_CLOEXEC : 0], `dup of fd ${op.d} to ${fdNo} in pid ${p.pid}`));
        return;
      }
      tmp = this.takeFd(p, op.c, op.d);
    } else {
      const f = this.ck.file(id);
      if (f.type === 'EVENTPOLL' && !(op as any).late) { (p.lateFds ??= []).push({ ...op, late: true } as PlanOp); return; }
      if (f.type === 'REG' || f.reg) tmp = this.openReg(p, f);
      else if (f.type === 'PIPE' && f.pipe) tmp = this.openPipe(p, f.pipe);
      else tmp = await this.viaKind(p, f, info);
    }
    this.place(p, tmp, fdNo, cloexec);
  }

  /** Move fd `tmp` of p to `fdNo` with the right close-on-exec flag. */
  place(p: Proc, tmp: number, fdNo: number, cloexec: boolean) {
    if (tmp !== fdNo) {
      this.sys(p, NR.dup3, [tmp, fdNo, cloexec ? O_CLOEXEC : 0], `placing fd ${fdNo} in pid ${p.pid}`);
      this.sys(p, NR.close, [tmp], 'close');
    } else {
      this.sys(p, NR.fcntl, [fdNo, 2 /* F_SETFD */, cloexec ? 1 : 0], 'fcntl(F_SETFD)');
    }
  }

  /** A copy in p of fd `fd` of process `from` (pidfd_open + pidfd_getfd injected in p). */
  takeFd(p: Proc, from: number, fd: number): number {
    const pfd = Number(this.sys(p, NR.pidfd_open, [from, 0], `pidfd_open(${from}) in pid ${p.pid}`));
    const t = Number(this.sys(p, NR.pidfd_getfd, [pfd, fd, 0], `taking fd ${fd} of pid ${from} into pid ${p.pid}`));
    this.sys(p, NR.close, [pfd], 'close');
    return t;
  }

  openReg(p: Proc, f: any): number {
    const reg = f.reg;
    let flags = 0;
    for (const n of flagSet(reg.flags)) flags |= O[n] ?? 0;
    if (typeof reg.flags === 'number') flags = reg.flags;
    flags &= ~(O.O_CREAT | O.O_EXCL | O.O_TRUNC | O.O_NOCTTY | O_CLOEXEC);
    let path: string = reg.name;
    const ghost = this.ghostOf(num(f.id));
    if (ghost) path = this.makeGhost(reg.name, ghost);
    else if (!existsSync(path)) {
      throw new TscrError('E_RESTORE', `file ${path} is missing: pid ${p.pid} had it open`, { pid: p.pid, file: path, hint: 'put the file back where it was at dump time and restore again' });
    }
    const a = this.scratchPut(p, this.cstr(path));
    const fd = Number(this.sys(p, NR.openat, [-100, a, flags, 0], `opening ${path} in pid ${p.pid}`));
    const pos = big(reg.pos ?? 0);
    if (pos) this.sys(p, NR.lseek, [fd, pos, 0], `seeking ${path} to ${pos}`);
    return fd;
  }

  /** Recreate a file that was deleted while open: write it, to be unlinked once every fd holds it. */
  makeGhost(name: string, g: any): string {
    let path = name;
    if (existsSync(path)) path = join(dirname(name), `.tscr-ghost.${process.pid}.${this.ghosts.length}.${basename(name)}`);
    const data = typeof g.extra === 'string' ? Buffer.from(g.extra, 'base64') : Buffer.alloc(0);
    writeFileSync(path, data, { mode: num(g.mode ?? 0o600) & 0o7777 });
    this.ghosts.push(path);
    return path;
  }

  /** Built-in pipe restore: pipe2 in the first holder; the other end stays there (kept) for later holders. */
  openPipe(p: Proc, pe: any): number {
    const key = String(pe.pipe_id);
    const wantWrite = (num(pe.flags) & 3) === 1;
    let h = this.pipes.get(key);
    if (!h) {
      const a = p.scratch;
      this.sys(p, NR.pipe2, [a, O_CLOEXEC], `creating a pipe in pid ${p.pid}`);
      const b = Buffer.alloc(8);
      check(Number(this.sh.vmRead(p.pid, a, b, 8)), 'reading pipe fds', { pid: p.pid });
      // park both ends above every fd the image uses
      const hi = Math.max(p.maxFd + 1, 64);
      const rfd = Number(this.sys(p, NR.fcntl, [b.readInt32LE(0), 1030 /* F_DUPFD_CLOEXEC */, hi], 'fcntl(F_DUPFD)'));
      const wfd = Number(this.sys(p, NR.fcntl, [b.readInt32LE(4), 1030, hi], 'fcntl(F_DUPFD)'));
      this.sys(p, NR.close, [b.readInt32LE(0)], 'close');
      this.sys(p, NR.close, [b.readInt32LE(4)], 'close');
      p.keep.push(rfd, wfd);
      h = { pid: p.pid, rfd, wfd };
      this.pipes.set(key, h);
      // queued data
      const pd = this.ck.tryImage('pipes-data')?.entries.find((e: any) => String(e.pipe_id) === key);
      if (pd && typeof pd.extra === 'string') {
        let data = Buffer.from(pd.extra, 'base64');
        while (data.length) {
          const chunk = data.subarray(0, Math.min(data.length, 32768));
          const da = this.scratchPut(p, chunk, 16384);
          const n = Number(this.sys(p, NR.write, [wfd, da, chunk.length], `refilling a pipe in pid ${p.pid}`));
          data = data.subarray(n);
        }
      }
      if (pe.flags !== undefined) {
        const fl = num(pe.flags) & ~3;
        if (fl) this.sys(p, NR.fcntl, [wantWrite ? wfd : rfd, 4 /* F_SETFL */, fl], 'fcntl(F_SETFL)');
      }
    }
    const src = wantWrite ? h.wfd : h.rfd;
    if (h.pid === p.pid) return Number(this.sys(p, NR.fcntl, [src, 1030, 0], 'fcntl(F_DUPFD)'));
    return this.takeFd(p, h.pid, src);
  }

  async viaKind(p: Proc, f: any, info: any): Promise<number> {
    const k = kindForType(String(f.type));
    if (!k) {
      throw new TscrError('E_UNSUPPORTED', `unsupported: ${String(f.type).toLowerCase()} fd ${num(info?.fd)} of pid ${p.pid} cannot be restored by this build`,
        { pid: p.pid, fd: num(info?.fd), kind: f.type, hint: 'this fd kind is not implemented yet' });
    }
    const local = await k.restore(this.kindCtx(p, num(info?.fd)), f, info);
    return this.takeLocal(p, local);
  }

  /** Move tscr's local fd into p (pidfd_getfd injected in p) and close tscr's copy. */
  takeLocal(p: Proc, local: number): number {
    try {
      return this.takeFd(p, process.pid, local);
    } finally {
      ptraceShimRaw().close(local);
    }
  }

  kindsAll: any[] = [];
  /** fd kinds' end of restore (issue 5: TCP repair off + network unlock, also on failures before any socket). Never throws. */
  kindsDone(ok: boolean) {
    const opts = { tcpEstablished: this.opts.tcpEstablished, rootPid: this.ck.tryImage('pstree')?.entries[0]?.pid };
    for (const k of this.kindsAll) { try { k.restoreDone?.(this.kindShared, ok, (s: string) => this.log(3, s), opts); } catch (e) { this.log(1, `warning: ${(e as Error).message}`); } }
    this.kindsAll = [];
  }

  /** What an fd kind module gets to restore an object for fd `fd` of p. */
  kindCtx(p: Proc, fd: number): any {
    return {
      pid: p.pid, fd, image: (m: string) => this.ck.tryImage(m.toLowerCase().replace(/_/g, '-'))?.entries ?? [],
      shared: this.kindShared, opts: { tcpEstablished: this.opts.tcpEstablished, extUnixSk: this.opts.extUnixSk, rootPid: this.ck.tryImage('pstree')?.entries[0]?.pid }, log: (s: string) => this.log(3, s),
      imageFile: (file: string) => this.ck.tryImage(file.replace(/\.img$/, ''))?.entries ?? null,
      // issue 4: epoll takes the watched files from the target (installed before it: epoll fds come last),
      // memfd/shmem read their pages, cached objects are closed when the restore ends
      localFd: (n: number) => this.localCopyOf(p.pid, n),
      shmemSource: (shmid: number) => this.shmemSource(shmid),
      defer: (fn: () => void) => { this.kindDefer.push(fn); },
    };
  }

  /** issue 4: fd in p of the memfd behind a shared VMA (MAP_SHARED anonymous or memfd mapping); one memfd per object for all processes. */
  shmemFdIn(p: Proc, v: any, memfdFile: boolean): number {
    let file = memfdFile ? this.ck.file(num(v.shmid)) : null;
    // A shared writable mapping needs a read-write fd, whatever flags the file entry has
    // (CRIU records shared anonymous memory as a memfd file used only by VMAs): its own
    // open file description (a distinct cache id), so fds of the same file keep theirs.
    if (file?.memfd && flagSet(v.flags).has('MAP_SHARED')) file = { ...file, id: -1 - num(file.id), memfd: { ...file.memfd, flags: 'O_RDWR' } };
    const local = shmemFdForVma(this.kindCtx(p, -1), v, file);
    try { return this.takeFd(p, process.pid, local); } finally { ptraceShimRaw().close(local); }
  }

  kindShared = new Map<string, unknown>();
  kindDefer: (() => void)[] = [];

  /** tscr's own copy of fd n of restored process pid (pidfd_getfd from tscr). */
  localCopyOf(pid: number, n: number): number {
    const s = ptraceShimRaw();
    const pfd = check(s.pidfd_open(pid, 0), `pidfd_open(${pid})`, { pid });
    try {
      return check(s.pidfd_getfd(pfd, n), `taking fd ${n} of pid ${pid} (an epoll watches it; it must be restored first)`, { pid, fd: n });
    } finally { s.close(pfd); }
  }

  /** Where the pages of shmem `shmid` are: its pages file and the runs in it (pagemap-shmem-<shmid>.img). */
  shmemSource(shmid: number): { file: string; runs: { off: number; fileOff: number; len: number }[] } | null {
    const pm = this.ck.tryImage(`pagemap-shmem-${shmid}`)?.entries ?? [];
    if (!pm.length) return null;
    const file = this.ck.pagesPath(num(pm[0].pages_id));
    const runs: { off: number; fileOff: number; len: number }[] = [];
    let at = 0;
    for (const e of pm.slice(1)) {
      const len = num(e.nr_pages) * 4096;
      runs.push({ off: num(e.vaddr), fileOff: at, len });
      at += len;
    }
    return { file, runs };
  }


  async fdsDone(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    for (const late of (p.lateFds ?? []).splice(0)) await this.fd(late);
    for (const fd of p.keep) this.sys(p, NR.close, [fd], 'close');
    p.keep = [];
  }

  thread(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const ca = Buffer.alloc(88);
    u64le(ca, 0, BigInt(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM));
    u64le(ca, 64, p.scratch + 1024n);
    u64le(ca, 72, 1n);
    this.scratchPut(p, ca, 0);
    const tb = Buffer.alloc(4); tb.writeInt32LE(op.a);
    this.scratchPut(p, tb, 1024);
    const r = this.sys(p, NR.clone3, [p.scratch, 88], `creating thread ${op.a} in pid ${p.pid}`, p.pid, (e) => e === 17);
    if (r === -17n) throw new TscrError('E_RESTORE', `tid ${op.a} is taken; the checkpoint needs it`, { pid: op.a, hint: 'stop the process that has it and restore again' });
    this.made.push(Number(r));
    if (Number(r) !== op.a) throw new TscrError('E_RESTORE', `clone3 made tid ${r}, wanted ${op.a}`, { pid: p.pid });
  }

  sigactions(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const acts: any[] = p.core.tc?.sigactions ?? [];
    let i = 0;
    for (let sig = 1; sig <= 64 && i < acts.length; sig++) {
      if (sig === 9 || sig === 19) continue;
      const a = acts[i++];
      const b = Buffer.alloc(32);
      u64le(b, 0, big(a.sigaction)); u64le(b, 8, big(a.flags)); u64le(b, 16, big(a.restorer)); u64le(b, 24, big(a.mask));
      const addr = this.scratchPut(p, b, 0);
      this.sys(p, NR.rt_sigaction, [sig, addr, 0, 8], `setting the action of signal ${sig} in pid ${p.pid}`);
    }
  }

  timers(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const t = p.core.tc?.timers;
    if (!t) return;
    (['real', 'virt', 'prof'] as const).forEach((k, which) => {
      const v = t[k];
      if (!v) return;
      const vals = [v.isec, v.iusec, v.vsec, v.vusec].map(big);
      if (vals.every((x) => x === 0n)) return;
      const b = Buffer.alloc(32);
      vals.forEach((x, i) => u64le(b, i * 8, x));
      this.sys(p, NR.setitimer, [which, this.scratchPut(p, b, 0), 0], `setting itimer ${k} of pid ${p.pid}`);
    });
    const posix: any[] = (t.posix ?? []).slice().sort((x: any, y: any) => num(x.it_id) - num(y.it_id));
    if (!posix.length) return;
    // Ask the kernel to take the timer ids from us (Linux 6.15+); else ids are
    // handed out in order and we check that each one comes out right.
    const restoreIds = this.sys(p, NR.prctl, [77 /* PR_TIMER_CREATE_RESTORE_IDS */, 1, 0, 0, 0], 'prctl(PR_TIMER_CREATE_RESTORE_IDS)', p.pid, () => true) === 0n;
    for (const pt of posix) {
      const id = num(pt.it_id);
      const ev = Buffer.alloc(64);
      u64le(ev, 0, big(pt.sival_ptr));
      ev.writeInt32LE(num(pt.si_signo), 8);
      ev.writeInt32LE(num(pt.it_sigev_notify), 12);
      if (pt.notify_thread_id !== undefined) ev.writeInt32LE(num(pt.notify_thread_id), 16);
      const evA = this.scratchPut(p, ev, 0);
      const idb = Buffer.alloc(4); idb.writeInt32LE(id);
      const idA = this.scratchPut(p, idb, 64);
      this.sys(p, NR.timer_create, [num(pt.clock_id), evA, idA], `creating POSIX timer ${id} in pid ${p.pid}`);
      const got = Buffer.alloc(4);
      check(Number(this.sh.vmRead(p.pid, idA, got, 4)), 'reading the timer id', { pid: p.pid });
      if (got.readInt32LE(0) !== id) {
        throw new TscrError('E_RESTORE', `POSIX timer ${id} of pid ${p.pid} came back as timer ${got.readInt32LE(0)}`, { pid: p.pid, hint: 'this kernel cannot create timers with chosen ids (needs Linux 6.15+ PR_TIMER_CREATE_RESTORE_IDS)' });
      }
      const vals = [pt.isec, pt.insec, pt.vsec, pt.vnsec].map(big);
      if (vals[2] === 0n && vals[3] === 0n) continue; // disarmed
      const its = Buffer.alloc(32);
      vals.forEach((x, i) => u64le(its, i * 8, x));
      this.sys(p, NR.timer_settime, [id, 0, this.scratchPut(p, its, 128), 0], `arming POSIX timer ${id} of pid ${p.pid}`);
    }
    if (restoreIds) this.sys(p, NR.prctl, [77, 0, 0, 0, 0], 'prctl(PR_TIMER_CREATE_RESTORE_IDS off)');
  }

  rlimits(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const rl: any[] = p.core.tc?.rlimits?.rlimits ?? [];
    rl.forEach((r, res) => {
      const rc = this.sh.prlimit(p.pid, res, big(r.cur), big(r.max));
      if (rc < 0) this.log(1, `warning: could not set rlimit ${res} of pid ${p.pid} (errno ${-rc})`);
    });
    // the rest of the per-process scheduling/OOM/reaper state that tscr can set from outside or by injection
    const tc = p.core.tc ?? {};
    if (tc.oom_score_adj !== undefined && num(tc.oom_score_adj) !== 0) {
      try { writeFileSync(`/proc/${p.pid}/oom_score_adj`, String(num(tc.oom_score_adj))); } catch (e: any) { this.log(1, `warning: oom_score_adj of pid ${p.pid}: ${e.message}`); }
    }
    if (tc.child_subreaper) this.sys(p, NR.prctl, [36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0], `making pid ${p.pid} a child subreaper`);
    else if ((p as any).madeSubreaper) this.sys(p, NR.prctl, [36, 0, 0, 0, 0], `pid ${p.pid} is no subreaper`);
    for (const t of p.threads) {
      const th = t.core.thread_core ?? {};
      const nice = num(th.sched_nice ?? 0);
      if (nice) {
        try { osSetPriority(t.tid, nice); } catch (e: any) { this.log(1, `warning: nice ${nice} of tid ${t.tid}: ${e.message}`); }
      }
      if (num(th.sched_policy ?? 0) !== 0) this.log(1, `note: scheduling policy ${num(th.sched_policy)} of tid ${t.tid} is not restored yet (runs as SCHED_OTHER)`);
    }
  }

  creds(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    for (const t of p.threads) this.credsOf(p, t);
  }

  /**
   * Credentials of one thread (each thread has its own in Linux), last of all
   * because they take away the rights the rest of the restore needs. Order:
   * bounding set, keep-caps, groups and ids, capabilities, ambient set, securebits.
   */
  credsOf(p: Proc, t: Thread) {
    const c = t.core.thread_core?.creds;
    if (!c) return;
    const pair = (v: any): bigint => { const a = (v ?? []).map(big); return (a[0] ?? 0n) | ((a[1] ?? 0n) << 32n); };
    const ids = ['uid', 'euid', 'suid', 'fsuid', 'gid', 'egid', 'sgid', 'fsgid'].map((k) => num(c[k] ?? 0));
    let lastCap = 40;
    try { lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')); } catch { /* default */ }
    const full = (1n << BigInt(lastCap + 1)) - 1n;
    const eff = pair(c.cap_eff) & full, prm = pair(c.cap_prm) & full, inh = pair(c.cap_inh) & full, bnd = pair(c.cap_bnd) & full, amb = pair(c.cap_amb) & full;
    const groups: number[] = (c.groups ?? []).map(num);
    const secbits = num(c.secbits ?? 0);
    const plainRoot = ids.every((x) => x === 0) && eff === full && prm === full && bnd === full && inh === 0n && amb === 0n && secbits === 0 && groups.length === 0;
    if (plainRoot) return;
    const tid = t.tid;
    const S = (nr: number, args: Array<number | bigint>, what: string) => this.sys(p, nr, args, `${what} (tid ${tid})`, tid);
    for (let cap = 0; cap <= lastCap; cap++) {
      if (!((bnd >> BigInt(cap)) & 1n)) S(NR.prctl, [24 /* PR_CAPBSET_DROP */, cap, 0, 0, 0], `dropping capability ${cap} from the bounding set`);
    }
    // keep capabilities (and the effective set) across the uid change
    S(NR.prctl, [28 /* PR_SET_SECUREBITS */, secbits | 0x10 /* KEEP_CAPS */ | 0x4 /* NO_SETUID_FIXUP */, 0, 0, 0], 'setting securebits');
    const gb = Buffer.alloc(Math.max(4, groups.length * 4));
    groups.forEach((g, i) => gb.writeUInt32LE(g >>> 0, i * 4));
    S(NR.setgroups, [groups.length, this.scratchPut(p, gb, 0)], 'setgroups');
    S(NR.setresgid, [ids[4], ids[5], ids[6]], 'setresgid');
    S(NR.setfsgid, [ids[7]], 'setfsgid');
    S(NR.setresuid, [ids[0], ids[1], ids[2]], 'setresuid');
    S(NR.setfsuid, [ids[3]], 'setfsuid');
    S(NR.prctl, [28, secbits, 0, 0, 0], 'setting securebits');
    const cap = Buffer.alloc(8 + 24);
    cap.writeUInt32LE(0x20080522, 0); // _LINUX_CAPABILITY_VERSION_3
    cap.writeInt32LE(0, 4);
    const lo = (x: bigint) => Number(x & 0xffffffffn), hi = (x: bigint) => Number(x >> 32n);
    cap.writeUInt32LE(lo(eff), 8); cap.writeUInt32LE(lo(prm), 12); cap.writeUInt32LE(lo(inh), 16);
    cap.writeUInt32LE(hi(eff), 20); cap.writeUInt32LE(hi(prm), 24); cap.writeUInt32LE(hi(inh), 28);
    const ca = this.scratchPut(p, cap, 0);
    S(NR.capset, [ca, ca + 8n], 'capset');
    for (let k = 0; k <= lastCap; k++) {
      if ((amb >> BigInt(k)) & 1n) S(NR.prctl, [47 /* PR_CAP_AMBIENT */, 2 /* RAISE */, k, 0, 0], `raising ambient capability ${k}`);
    }
  }

  /** Per-thread kernel state that only the thread itself can set, plus pending signals. */
  pending(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const pers = num(p.core.tc?.personality ?? 0);
    if (pers) this.sys(p, NR.personality, [pers], `personality of pid ${p.pid}`);
    for (const t of p.threads) {
      const tc = t.core.thread_core ?? {};
      const ti = t.core.thread_info ?? {};
      if (ti.clear_tid_addr !== undefined) this.sys(p, NR.set_tid_address, [big(ti.clear_tid_addr)], 'set_tid_address', t.tid);
      if (tc.futex_rla !== undefined && big(tc.futex_rla)) this.sys(p, NR.set_robust_list, [big(tc.futex_rla), num(tc.futex_rla_len)], 'set_robust_list', t.tid);
      if (tc.sas && num(tc.sas.ss_flags) !== 2 /* SS_DISABLE */) {
        const b = Buffer.alloc(24);
        u64le(b, 0, big(tc.sas.ss_sp)); b.writeInt32LE(num(tc.sas.ss_flags), 8); u64le(b, 16, big(tc.sas.ss_size));
        this.sys(p, NR.sigaltstack, [this.scratchPut(p, b, 0), 0], `sigaltstack of tid ${t.tid}`, t.tid);
      }
      const comm: string | undefined = tc.comm ?? (t.tid === p.pid ? p.core.tc?.comm : undefined);
      if (comm) this.sys(p, NR.prctl, [15 /* PR_SET_NAME */, this.scratchPut(p, this.cstr(comm.slice(0, 15)), 0), 0, 0, 0], 'prctl(PR_SET_NAME)', t.tid);
      const rs = tc.rseq_entry;
      if (rs && big(rs.rseq_abi_pointer)) {
        this.sys(p, NR.rseq, [big(rs.rseq_abi_pointer), num(rs.rseq_abi_size), 0, num(rs.signature)], `registering rseq of tid ${t.tid}`, t.tid);
      }
      this.seccompOf(p, t);
    }
    // pending signals: shared then per thread (blocked ones stay pending; others are delivered at start)
    const queue = (tid: number, list: any[] | undefined, shared: boolean) => {
      for (const s of list ?? []) {
        const si = Buffer.from(String(s.siginfo ?? ''), 'base64');
        if (si.length < 12) continue;
        const signo = si.readInt32LE(0);
        const a = this.scratchPut(p, si, 0);
        if (shared) this.sys(p, NR.rt_sigqueueinfo, [p.pid, signo, a], `queueing signal ${signo} to pid ${p.pid}`, tid);
        else this.sys(p, NR.rt_tgsigqueueinfo, [p.pid, tid, signo, a], `queueing signal ${signo} to tid ${tid}`, tid);
      }
    };
    // mask first, so blocked signals stay queued while we work
    for (const t of p.threads) check(this.sh.setsigmask(t.tid, this.sigmaskOf(p, t)), `setting the signal mask of ${t.tid}`, { pid: t.tid }, 'E_PTRACE');
    queue(p.pid, p.core.tc?.signals_s?.signals, true);
    for (const t of p.threads) queue(t.tid, t.core.thread_core?.signals_p?.signals, false);
  }

  /**
   * no_new_privs and seccomp of one thread. The tracees run with
   * PTRACE_O_SUSPEND_SECCOMP, so the filters do not touch the syscalls the
   * restore still injects; they act from the moment the thread is let go.
   * A thread's filters form a chain (prev links in seccomp.img) ending at its
   * seccomp_filter index; they are installed from the first to the last.
   */
  seccompOf(p: Proc, t: Thread) {
    const tc = t.core.thread_core ?? {};
    const nnp = num(tc.creds?.no_new_privs ?? tc.no_new_privs ?? 0);
    if (nnp) this.sys(p, NR.prctl, [38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0], `no_new_privs of tid ${t.tid}`, t.tid);
    const mode = tc.seccomp_mode;
    if (mode === undefined || mode === 0 || mode === 'disabled') return;
    if (mode === 1 || mode === 'strict') {
      this.sys(p, NR.prctl, [22 /* PR_SET_SECCOMP */, 1, 0, 0, 0], `strict seccomp of tid ${t.tid}`, t.tid);
      return;
    }
    const all: any[] = this.ck.tryImage('seccomp')?.entries[0]?.seccomp_filters ?? [];
    const chain: any[] = [];
    const seen = new Set<number>();
    for (let i: number | undefined = num(tc.seccomp_filter ?? 0); i !== undefined; ) {
      const f = all[i];
      if (!f || seen.has(i)) throw new TscrError('E_CORRUPT', `seccomp filter ${i} of tid ${t.tid} is missing or loops`, { pid: t.tid, kind: 'SECCOMP', file: join(this.ck.dir, 'seccomp.img') });
      seen.add(i);
      chain.unshift(f);
      i = f.prev === undefined ? undefined : num(f.prev);
    }
    for (const f of chain) {
      const code = Buffer.from(String(f.filter ?? ''), 'base64');
      if (!code.length || code.length % 8) throw new TscrError('E_CORRUPT', `seccomp filter of tid ${t.tid} is not a BPF program (${code.length} bytes)`, { pid: t.tid, kind: 'SECCOMP' });
      const codeA = this.scratchPut(p, code, 4096);
      const prog = Buffer.alloc(16);
      prog.writeUInt16LE(code.length / 8, 0);
      u64le(prog, 8, codeA);
      const progA = this.scratchPut(p, prog, 0);
      // each thread gets its own chain: no TSYNC
      this.sys(p, NR.seccomp, [1 /* SECCOMP_SET_MODE_FILTER */, num(f.flags ?? 0) & ~1, progA], `installing a seccomp filter in tid ${t.tid}`, t.tid);
    }
  }

  sigmaskOf(p: Proc, t: Thread): bigint {
    const tc = t.core.thread_core ?? {};
    if (tc.blk_sigset !== undefined) return big(tc.blk_sigset);
    return big(p.core.tc?.blk_sigset ?? 0);
  }

  ungadget(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    this.sys(p, NR.munmap, [BigInt(op.a), op.b], `removing the restore gadget from pid ${p.pid}`);
  }

  regs(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const names = ['r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs'];
    for (const t of p.threads) {
      const ti = t.core.thread_info;
      if (!ti?.gpregs) throw new TscrError('E_CORRUPT', `core-${t.tid}.img has no registers`, { pid: t.tid, kind: 'CORE', file: join(this.ck.dir, `core-${t.tid}.img`) });
      if (ti.gpregs.mode && ti.gpregs.mode !== 'NATIVE' && ti.gpregs.mode !== 1) throw new TscrError('E_UNSUPPORTED', `tid ${t.tid} is a 32-bit (compat) task`, { pid: t.tid });
      // FPU / xstate first (a regset write may touch nothing else)
      if (ti.fpregs) this.setFpu(t.tid, ti.fpregs);
      const b = Buffer.alloc(27 * 8);
      check(this.sh.getregs(t.tid, b), 'reading registers', { pid: t.tid }, 'E_PTRACE');
      names.forEach((n, i) => { if (ti.gpregs[n] !== undefined) u64le(b, i * 8, big(ti.gpregs[n])); });
      u64le(b, 15 * 8, 0xffffffffffffffffn); // orig_ax = -1: no syscall restart on the way out
      check(this.sh.setregs(t.tid, b), `setting the registers of tid ${t.tid}`, { pid: t.tid }, 'E_PTRACE');
      check(this.sh.setsigmask(t.tid, this.sigmaskOf(p, t)), `setting the signal mask of ${t.tid}`, { pid: t.tid }, 'E_PTRACE');
    }
  }

  readonly xbuf = Buffer.alloc(65536); // xstate is 11 KiB with AMX/AVX-512
  setFpu(tid: number, fp: any) {
    const x = this.xbuf;
    x.fill(0);
    const size = this.sh.getregset(tid, NT_X86_XSTATE, x, x.length);
    check(size, 'reading xstate', { pid: tid }, 'E_PTRACE');
    x.writeUInt16LE(num(fp.cwd) & 0xffff, 0);
    x.writeUInt16LE(num(fp.swd) & 0xffff, 2);
    x.writeUInt16LE(num(fp.twd) & 0xffff, 4);
    x.writeUInt16LE(num(fp.fop) & 0xffff, 6);
    u64le(x, 8, big(fp.rip)); u64le(x, 16, big(fp.rdp));
    x.writeUInt32LE(num(fp.mxcsr) >>> 0, 24);
    x.writeUInt32LE(num(fp.mxcsr_mask) >>> 0, 28);
    (fp.st_space ?? []).slice(0, 32).forEach((w: any, i: number) => x.writeUInt32LE(num(w) >>> 0, 32 + i * 4));
    (fp.xmm_space ?? []).slice(0, 64).forEach((w: any, i: number) => x.writeUInt32LE(num(w) >>> 0, 160 + i * 4));
    let bv = 3n;
    let known = 3n; // components this restore writes (x87, SSE + those below)
    if (fp.xsave) {
      const xs = fp.xsave;
      bv = big(xs.xstate_bv);
      // standard-format offsets of this CPU (CPUID leaf 0xd)
      const L = xsaveLayout();
      const put = (comp: number, words: any[] | undefined, wsize: 4 | 8, fallbackOff?: number) => {
        const c = L.get(comp) ?? (fallbackOff !== undefined ? { off: fallbackOff, size: 256 } : undefined);
        if (!words || !words.length || !c || c.off + words.length * wsize > size) return;
        words.forEach((w: any, i: number) => (wsize === 4 ? x.writeUInt32LE(num(w) >>> 0, c.off + i * 4) : u64le(x, c.off + i * 8, big(w))));
        known |= 1n << BigInt(comp);
      };
      put(2, xs.ymmh_space, 4, 576);
      put(5, xs.opmask_reg, 8);
      put(6, xs.zmm_upper, 8);
      put(7, xs.hi16_zmm, 8);
      put(9, xs.pkru, 4);
    }
    if (size > 512) {
      const cur = x.readBigUInt64LE(512);
      u64le(x, 512, (cur & ~known) | (bv & known));
    }
    check(this.sh.setregset(tid, NT_X86_XSTATE, x, size), `setting the FPU state of tid ${tid}`, { pid: tid }, 'E_PTRACE');
  }

  /** The process exits as it did before the dump; its parent (a stub with default SIGCHLD) keeps it as a zombie. */
  zombie(op: PlanOp) {
    const p = this.procs.get(op.pid)!;
    const parent = this.procs.get(op.a);
    if (!parent) throw new TscrError('E_UNSUPPORTED', `zombie ${p.pid} has no parent in the tree`, { pid: p.pid });
    const dfl = Buffer.alloc(32); // SIG_DFL for SIGCHLD: an ignored SIGCHLD would reap the zombie at once
    this.sys(parent, NR.rt_sigaction, [SIGCHLD, this.scratchPut(parent, dfl, 0), 0, 8], `resetting SIGCHLD in pid ${parent.pid}`);
    const comm = p.core.tc?.comm;
    if (comm) this.sys(p, NR.prctl, [15 /* PR_SET_NAME */, this.scratchPut(p, this.cstr(String(comm).slice(0, 15)), 0), 0, 0, 0], 'prctl(PR_SET_NAME)');
    const status = num(p.core.tc?.exit_code ?? 0);
    const sig = status & 0x7f;
    if (sig) {
      // killed by a signal: let it die of that signal
      check(this.sh.detach(p.pid, sig), `letting zombie ${p.pid} die of signal ${sig}`, { pid: p.pid }, 'E_PTRACE');
    } else {
      this.argb.fill(0);
      this.argb.writeBigInt64LE(BigInt((status >> 8) & 0xff), 0);
      const rc = this.sh.syscall(p.pid, p.gadget, 231 /* exit_group */, this.argb, this.out);
      if (rc !== -3 /* ESRCH: it exited, as it should */ && rc < 0) check(rc, `ending zombie ${p.pid}`, { pid: p.pid }, 'E_PTRACE');
    }
    this.log(2, `pid ${p.pid} is a zombie again (status ${status})`);
  }

  start() {
    this.kindsDone(true);
    for (const p of this.order) {
      if (p.zombie) continue;
      for (const t of p.threads) {
        // a task that was stopped goes back into its group stop as it is let go
        const rc = this.sh.detach(t.tid, p.stopped && t.tid === p.pid ? 19 /* SIGSTOP */ : t.deferredSig);
        if (rc < 0) this.log(1, `warning: detaching ${t.tid} failed (errno ${-rc})`);
      }
    }
    for (const g of this.ghosts) { try { unlinkSync(g); } catch { /* already gone */ } }
    this.ghosts.length = 0;
  }

  /** Kill and reap everything we made. */
  cleanup() {
    for (const pid of this.made) this.sh.kill(pid, 9);
    const st = Buffer.alloc(4);
    for (const pid of this.made.slice().reverse()) {
      for (let i = 0; i < 100; i++) {
        const rc = this.sh.wait(pid, 0, st);
        if (rc < 0) break; // ECHILD: reaped or not ours
        const s = st.readInt32LE(0);
        if ((s & 0x7f) !== 0x7f) break; // exited/killed, not a stop
      }
    }
    for (const g of this.ghosts) { try { unlinkSync(g); } catch { /* gone */ } }
    this.kindsDone(false);   // after the kill: sockets still in repair mode close silently
  }

  async run(): Promise<RestoreResult> {
    const t0 = performance.now();
    try { this.kindsAll = (await import('../kinds/index.ts')).kinds; } catch { /* no registry */ }
    let plan: PlanOp[];
    try {
      plan = this.load();
      const tLoad = performance.now();
      this.log(2, `read the checkpoint and planned ${plan.length} operations in ${(tLoad - t0).toFixed(1)} ms`);
      this.preflight();
      this.log(2, `checks (pids free, files present) in ${(performance.now() - tLoad).toFixed(1)} ms`);
    } catch (e) {
      this.kindsDone(false);   // issue 5: a refused restore unlocks the network too
      throw e;
    }
    const seen = new Set<number>();
    for (const op of plan) if (op.op === 'fork' && !seen.has(op.pid)) { seen.add(op.pid); this.order.push(this.procs.get(op.pid)!); }
    let tTree = 0, tMem = 0;
    let i = 0;
    try {
      for (const op of plan) {
        i++;
        this.log(3, `op ${i}/${plan.length}: ${op.op} pid ${op.pid}${op.a ? ` ${op.a}` : ''}`);
        const ts = performance.now();
        // test hook: hang before this op, so a test can kill tscr mid-restore
        if (process.env.TSCR_TEST && process.env.TSCR_TEST_RESTORE_STALL === op.op) {
          this.log(1, `stalling before ${op.op} (TSCR_TEST_RESTORE_STALL)`);
          Atomics.wait(SLEEP, 0, 0, 120000);
        }
        switch (op.op) {
          case 'fork': this.fork(op); break;
          case 'setsid': this.sys(this.procs.get(op.pid)!, NR.setsid, [], `setsid in pid ${op.pid}`); break;
          case 'setpgid': this.sys(this.procs.get(op.pid)!, NR.setpgid, [0, op.a], `setpgid(${op.a}) in pid ${op.pid}`); break;
          case 'gadget': this.gadget(op); break;
          case 'mm': await this.mm(op); tMem += performance.now() - ts; break;
          case 'fs': this.fs(op); break;
          case 'fd': await this.fd(op); break;
          case 'thread': this.thread(op); break;
          case 'sigactions': this.sigactions(op); break;
          case 'timers': this.timers(op); break;
          case 'rlimits': this.rlimits(op); break;
          case 'fds-done': await this.fdsDone(op); break;
          case 'creds': this.creds(op); break;
          case 'pending': this.pending(op); break;
          case 'ungadget': this.ungadget(op); break;
          case 'regs': this.regs(op); break;
          case 'zombie': this.zombie(op); break;
          case 'helper': this.helper(op); break;
          case 'helper-exit': this.helperExit(op); break;
          case 'group-helper': this.groupHelper(op); break;
          case 'start': this.start(); break;
          default: throw new TscrError('E_INTERNAL', `unknown plan op ${(op as any).op}`);
        }
        if (op.op === 'fork' || op.op === 'setsid' || op.op === 'setpgid') tTree += performance.now() - ts;
        this.opts.progress?.(i, plan.length);
      }
    } catch (e) {
      this.cleanup();
      if (isTscrError(e)) {
        if (e.code === 'E_KERNEL' || e.code === 'E_PTRACE') {
          throw new TscrError('E_RESTORE', `restore failed: ${e.message}`, { ...e.where, hint: e.where.hint ?? 'every process the restore made was killed; run with -v for details' });
        }
        if (!e.where.hint) (e.where as any).hint = 'every process the restore made was killed';
        throw e;
      }
      throw e;
    } finally {
      for (const fn of this.kindDefer.splice(0)) { try { fn(); } catch { /* closing tscr's copies */ } }
    }
    const total = performance.now() - t0;
    return {
      root: this.order[0].pid,
      pids: this.order.map((p) => p.pid),
      threads: this.order.reduce((n, p) => n + p.threads.length, 0),
      bytes: this.bytes,
      ms: { total, tree: tTree, memory: tMem, rest: total - tTree - tMem },
    };
  }
}

/** Restore the checkpoint in opts.dir. The tree runs when this returns. Call on one thread only. */
export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  return new Engine(opts).run();
}

/** The plan for a checkpoint without touching any process (for --dry-run; loads no native code). */
export function planOnly(opts: RestoreOptions): Array<PlanOp & { detail?: string }> {
  const e = new Engine(opts);
  return e.load().map((op) => {
    let detail: string | undefined;
    try { detail = e.detailOf(op); } catch { /* the plan itself is what matters */ }
    return detail ? { ...op, detail } : op;
  });
}

/** Wait (blocking) for the restored root, which is tscr's child; its exit code or killing signal. */
export function waitRoot(pid: number): { code: number; signal: number } {
  const sh = restoreNative();
  const st = Buffer.alloc(4);
  for (;;) {
    const rc = sh.wait(pid, 0, st);
    if (rc < 0) return { code: 0, signal: 0 };
    const s = st.readInt32LE(0);
    if ((s & 0x7f) === 0) return { code: (s >> 8) & 0xff, signal: 0 };
    if ((s & 0x7f) !== 0x7f) return { code: 0, signal: s & 0x7f };
  }
}
