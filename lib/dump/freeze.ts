// Freeze a process tree: PTRACE_SEIZE (with TRACECLONE/TRACEFORK) and
// PTRACE_INTERRUPT every thread of every process under the root, walking
// /proc/PID/task and /proc/PID/task/*/children again until a pass finds nothing
// new. Threads or children born mid-walk are auto-attached by the fork/clone
// options and picked up by the next pass.
import { readFileSync, existsSync } from 'node:fs';
import { Tracee, waitFor } from '../ptrace.ts';
import { tasks, children, stat, status } from '../proc.ts';
import { ptraceShimRaw, PTRACE_EVENT } from '../../shim/native.ts';
import { TscrError } from '../errors.ts';

export interface Frozen {
  root: number;
  /** Processes in tree order (parents before children). */
  pids: number[];
  /** Threads per process, leader first. */
  threads: Map<number, Tracee[]>;
  all: Map<number, Tracee>;
  /** Children that have exited but are not reaped yet (not seized: nothing to stop). */
  zombies: Map<number, Zombie>;
  /** Every process, live or zombie, in the order the walk found them (parents first). */
  order: number[];
}

export interface Zombie { pid: number; ppid: number; pgid: number; sid: number; exitCode: number; comm: string }

function readZombie(pid: number): Zombie | null {
  try {
    const st = stat(pid);
    if (st.f[0] !== 'Z' && st.f[0] !== 'X') return null;
    return { pid, ppid: Number(st.f[1]), pgid: Number(st.f[2]), sid: Number(st.f[3]), exitCode: Number(st.f[49] ?? 0), comm: st.comm };
  } catch { return null; }
}

export function freezeTree(root: number, log: (t: string) => void, checkAbort: () => void): Frozen {
  const fz: Frozen = { root, pids: [], threads: new Map(), all: new Map(), zombies: new Map(), order: [] };
  try {
    const st = stat(root);
    if (st.f[0] === 'Z' && tasks(root).length > 1) throw leaderGone(root);
    if (st.f[0] === 'Z') throw new TscrError('E_DUMP', `process ${root} is a zombie (it has exited; its parent has not reaped it)`, { pid: root });
  } catch (e) {
    if (e instanceof TscrError && e.code === 'E_NOT_FOUND') throw new TscrError('E_NOT_FOUND', `no process with pid ${root}`, { pid: root, hint: 'check the pid with `ps`' });
    throw e;
  }
  if ((Number(stat(root).f[6]) & 0x00200000) !== 0) {
    throw new TscrError('E_USAGE', `process ${root} is a kernel thread; there is nothing to checkpoint`, { pid: root });
  }
  for (let p = process.pid; p > 1; ) {
    if (p === root) throw new TscrError('E_USAGE', `process ${root} is tscr's own ancestor (the shell that started it?); tscr cannot freeze the tree it runs in`, { pid: root, hint: 'start the program with setsid, or from another terminal, and dump it by its pid' });
    try { p = Number(stat(p).f[1]); } catch { break; }
  }
  const s = ptraceShimRaw();
  const auto = new Set<number>(); // tids attached by TRACECLONE/TRACEFORK, not yet waited for
  const seizeOne = (pid: number, tid: number) => {
    const t = new Tracee(pid, tid);
    if (!auto.has(tid)) {
      let r = s.seize(tid, 0x2 | 0x4 | 0x8);
      if (r === -3) return; // gone already
      // EPERM for a task born a moment ago: the kernel attached it to us already
      // (TRACEFORK/TRACECLONE) before we saw its fork event. Wait for its first stop.
      if (r === -1 && tracedByUs(tid)) { auto.add(tid); r = 0; }
      else if (r === -1 && isDead(tid)) {
        // it died between the listing and the seize: a process becomes a zombie of the tree
        if (tid === pid && pid !== root) { const z = readZombie(pid); if (z) { fz.zombies.set(pid, z); fz.order.push(pid); } }
        return;
      }
      else if (r < 0) {
        const why = r === -1 ? 'EPERM: is it traced by another debugger, or not ours to trace?' : `errno ${-r}`;
        throw new TscrError('E_PTRACE', `cannot attach to thread ${tid} of process ${pid} (${why})`, { pid, hint: 'check /proc/PID/status TracerPid; run tscr as root' });
      }
      if (!auto.has(tid)) check0(s.interrupt(tid), tid, pid);
    }
    fz.all.set(tid, t);
    const list = fz.threads.get(pid) ?? [];
    if (!fz.threads.has(pid)) { fz.threads.set(pid, list); fz.pids.push(pid); fz.order.push(pid); }
    if (tid === pid) list.unshift(t); else list.push(t);
    // Wait until it sits in a clean PTRACE_EVENT_STOP. A thread reporting a fork/clone/exec
    // event is still inside that syscall (its return value not yet in rax): let it finish the
    // syscall and stop on the pending interrupt instead, so injected syscalls start clean.
    for (;;) {
      const st = waitFor(tid, 5000);
      if (!st) throw new TscrError('E_PTRACE', `thread ${tid} of process ${pid} did not stop within 5 s`, { pid, hint: 'is it in uninterruptible sleep (state D)?' });
      if (st.kind !== 'stopped') { fz.all.delete(tid); list.splice(list.indexOf(t), 1); return; }
      if (st.event === PTRACE_EVENT.FORK || st.event === PTRACE_EVENT.VFORK || st.event === PTRACE_EVENT.CLONE) {
        const b = Buffer.alloc(8);
        s.geteventmsg(tid, b);
        const nt = Number(b.readBigUInt64LE(0));
        auto.add(nt);
        log(`thread ${tid} created ${nt} while freezing`);
        check0(s.interrupt(tid), tid, pid);
        check0(s.cont(tid, 0), tid, pid);
        continue;
      }
      if (st.event === PTRACE_EVENT.STOP) {
        if (st.sig !== 5 /* SIGTRAP: our interrupt */) t.stopSig = st.sig; // it was in a group-stop
        t.stopped = true;
        // a thread under seccomp: its filters must not see (or kill it for) the syscalls tscr
        // injects; PTRACE_O_SUSPEND_SECCOMP lasts until we detach
        if (Number(status(pid, tid).Seccomp ?? 0) !== 0) {
          const r = s.set_options(tid, 0x2 | 0x4 | 0x8 | 0x200000);
          if (r < 0) throw new TscrError('E_PTRACE', `cannot suspend the seccomp filter of thread ${tid} of process ${pid} (errno ${-r})`, { pid, hint: 'this needs CAP_SYS_ADMIN, a tscr not itself under seccomp, and a kernel with CONFIG_CHECKPOINT_RESTORE' });
        }
        return;
      }
      if (st.event !== 0) { // exec, vfork-done, exit...: finish it, stop on the interrupt
        check0(s.interrupt(tid), tid, pid);
        check0(s.cont(tid, 0), tid, pid);
        continue;
      }
      // signal-delivery-stop: keep the signal for detach, re-stop
      t.pendingSigs.push(st.sig);
      check0(s.cont(tid, 0), tid, pid);
      check0(s.interrupt(tid), tid, pid);
    }
  };
  try {
    walk(fz, root, seizeOne, checkAbort);
  } catch (e) {
    thawTree(fz); // let go of what was seized so far, as it was
    throw e;
  }
  // processes that exited during the walk
  fz.pids = fz.pids.filter((p) => (fz.threads.get(p)?.length ?? 0) > 0 && fz.threads.get(p)![0].tid === p);
  const live = new Set(fz.pids);
  // a process that was seized and then exited before it stopped is found again by the next
  // pass, as a zombie: it is listed twice then, and keeps its first place (after its parent)
  fz.order = [...new Set(fz.order)].filter((p) => live.has(p) || fz.zombies.has(p));
  log(`frozen ${fz.pids.length} processes, ${fz.all.size} threads${fz.zombies.size ? `, ${fz.zombies.size} zombies` : ''}`);
  return fz;
}


function walk(fz: Frozen, root: number, seizeOne: (pid: number, tid: number) => void, checkAbort: () => void): void {
  for (let pass = 0; ; pass++) {
    checkAbort();
    let found = 0;
    const queue = [root];
    const seen = new Set<number>();
    while (queue.length) {
      const pid = queue.shift()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      if (fz.zombies.has(pid)) continue;
      if (pid !== root && !fz.threads.has(pid)) {
        let state = '';
        try { state = stat(pid).f[0]; } catch { continue; }
        if (state === 'Z' && tasks(pid).length > 1) throw leaderGone(pid);
        if (state === 'Z' || state === 'X') {
          // exited, not reaped by its (frozen) parent: recorded as a zombie, as CRIU does
          const z = readZombie(pid);
          if (z) { fz.zombies.set(pid, z); fz.order.push(pid); found++; }
          continue;
        }
      }
      for (const tid of tasks(pid)) {
        if (!fz.all.has(tid)) { seizeOne(pid, tid); found++; }
      }
      for (const c of children(pid)) queue.push(c);
    }
    if (found === 0) break;
    if (pass > 100) throw new TscrError('E_DUMP', `the tree under ${root} keeps creating processes; cannot freeze it`, { pid: root });
  }
}

function leaderGone(pid: number): TscrError {
  return new TscrError('E_UNSUPPORTED', `unsupported: the main thread of process ${pid} has exited (pthread_exit) while its other threads run`, {
    pid, hint: 'tscr cannot checkpoint a process without its main thread; the process was left running as it was',
  });
}

function isDead(tid: number): boolean {
  try { return /\) [ZX] /.test(readFileSync(`/proc/${tid}/stat`, 'utf8')); } catch { return true; }
}

/** Is tid traced by a thread of this process? (TracerPid names the tracer thread, not its process.) */
function tracedByUs(tid: number): boolean {
  try {
    const t = Number(/TracerPid:\s+(\d+)/.exec(readFileSync(`/proc/${tid}/status`, 'utf8'))?.[1] ?? 0);
    return t > 0 && existsSync(`/proc/self/task/${t}`);
  } catch { return false; }
}

function check0(r: number, tid: number, pid: number) {
  if (r < 0 && r !== -3) throw new TscrError('E_PTRACE', `ptrace on thread ${tid} failed (errno ${-r})`, { pid });
}

/** Detach every thread (re-delivering signals that arrived while frozen). Never throws. */
export function thawTree(fz: Frozen, kill = false): void {
  const s = ptraceShimRaw();
  if (kill) for (const p of fz.pids) s.kill(p, 9);
  for (const t of fz.all.values()) {
    try { kill ? s.detach(t.tid, 0) : t.detach(); } catch { /* gone */ }
  }
}
