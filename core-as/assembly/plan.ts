// Restore planning: from a compact description of a checkpoint to an explicit,
// ordered list of operations the restore engine performs one by one.
//
// Input (little-endian i64 words, built by lib/restore/plan.ts):
//   [1 (version), flags (bit0: shell job), nproc]
//   per process: pid, ppid, pgid, sid, state (1 alive, 2 zombie), nthreads, tid*, nvmas, (start, end)*, nfds, (fd, fileId)*
// Output (i64 words): [status, pid, nops], then nops ops of PLAN_OP_WORDS words:
//   op, pid, a, b, c, d
// status 0 = ok; otherwise an error (PLAN_E_*) about `pid`, and no ops.
//
// Order of the plan (as the kernel requires):
//   1. processes, parents before children (fork by the parent's stub with the
//      exact pid), setsid in a session leader right after it is made (before
//      it makes children, who inherit the session);
//   2. process groups: leaders first, then members;
//   3. per process: the gadget/scratch hole, the address space, cwd/root/umask,
//      fds (a file shared by several fds/processes is opened once, in the first
//      holder, and passed to later holders), threads, sigactions, timers, rlimits;
//   4. per process: credentials, pending signals, gadget removal, final registers;
//   5. start: every thread of every process is detached at once.

export const PLAN_OP_WORDS: i32 = 6;

// op codes (mirrored in lib/restore/plan.ts)
const OP_FORK: i64 = 1;      // pid, a = parent pid (0: tscr), b = nthreads
const OP_SETSID: i64 = 2;    // pid
const OP_SETPGID: i64 = 3;   // pid, a = pgid
const OP_GADGET: i64 = 4;    // pid, a = hole address, b = hole size
const OP_MM: i64 = 5;        // pid
const OP_FS: i64 = 6;        // pid
const OP_FD: i64 = 7;        // pid, a = fd, b = file id, c = holder pid (0: open here), d = holder fd
const OP_THREAD: i64 = 8;    // pid, a = tid
const OP_SIGACT: i64 = 9;    // pid
const OP_TIMERS: i64 = 10;   // pid
const OP_RLIMITS: i64 = 11;  // pid
const OP_CREDS: i64 = 12;    // pid
const OP_PENDING: i64 = 13;  // pid
const OP_UNGADGET: i64 = 14; // pid, a = hole address, b = hole size
const OP_REGS: i64 = 15;     // pid
const OP_START: i64 = 16;    // -
const OP_FDS_DONE: i64 = 17; // pid: close the temporaries kept for passing
const OP_HELPER: i64 = 19;   // pid = a session leader that is gone, a = the parent that makes it (then setsid)
const OP_HELPER_EXIT: i64 = 20; // pid = helper, a = its parent: the helper exits and is reaped
const OP_GROUP_HELPER: i64 = 21; // pid = a group leader that is gone, a = the member that makes it (then setpgid(0, 0))
const OP_ZOMBIE: i64 = 18;   // pid, a = parent: the process exits (its parent keeps it as a zombie)

const E_BAD_INPUT: i64 = 1;
const E_ROOTS: i64 = 2;      // zero or several roots
const E_SESSION: i64 = 3;    // a session that can only be made with a helper process
const E_PGID: i64 = 4;       // a process group whose leader is not in the tree
const E_NO_HOLE: i64 = 5;    // no free address range for the gadget
const E_PID_DUP: i64 = 6;    // a pid or tid appears twice

// Hole: one range free in every address space of the tree (so children inherit
// it from the parent's stub), away from the stub's own text at 0x400000.
const HOLE_SIZE: i64 = 2 << 20;
const HOLE_MIN: i64 = 0x10000000;
const HOLE_MAX: i64 = 0x7ffffffff000;
const STUB_LO: i64 = 0x400000;
const STUB_HI: i64 = 0x600000;

class Proc {
  pid: i64 = 0;
  ppid: i64 = 0;
  pgid: i64 = 0;
  sid: i64 = 0;
  zombie: bool = false;
  tids: i64[] = [];
  fds: i64[] = [];   // fd, fileId pairs
  parent: i32 = -1;
  curPgid: i64 = 0;
  curSid: i64 = 0;
}

class Reader {
  buf: ArrayBuffer;
  pos: i32 = 0;
  n: i32;
  bad: bool = false;
  constructor(buf: ArrayBuffer) { this.buf = buf; this.n = buf.byteLength >>> 3; }
  next(): i64 {
    if (this.pos >= this.n) { this.bad = true; return 0; }
    const v = load<i64>(changetype<usize>(this.buf) + (<usize>this.pos << 3));
    this.pos++;
    return v;
  }
}

class Out {
  words: i64[] = [];
  op(op: i64, pid: i64, a: i64 = 0, b: i64 = 0, c: i64 = 0, d: i64 = 0): void {
    this.words.push(op); this.words.push(pid); this.words.push(a);
    this.words.push(b); this.words.push(c); this.words.push(d);
  }
}

function result(status: i64, pid: i64, out: Out | null): ArrayBuffer {
  const nw = out ? out.words.length : 0;
  const buf = new ArrayBuffer((3 + nw) << 3);
  const p = changetype<usize>(buf);
  store<i64>(p, status);
  store<i64>(p + 8, pid);
  store<i64>(p + 16, nw / PLAN_OP_WORDS);
  if (out) for (let i = 0; i < nw; i++) store<i64>(p + 24 + (<usize>i << 3), unchecked(out.words[i]));
  return buf;
}

function findHole(lo: i64[], hi: i64[]): i64 {
  // lo/hi: every VMA of every process. Try candidates at HOLE_MIN and right
  // after each VMA end; take the lowest that overlaps nothing.
  const cands: i64[] = [HOLE_MIN];
  for (let i = 0; i < hi.length; i++) {
    const e = (unchecked(hi[i]) + 0x1fffff) & ~(<i64>0x1fffff);
    if (e >= HOLE_MIN) cands.push(e);
  }
  cands.sort((a: i64, b: i64): i32 => (a < b ? -1 : a > b ? 1 : 0));
  for (let k = 0; k < cands.length; k++) {
    const s = unchecked(cands[k]);
    const e = s + HOLE_SIZE;
    if (e > HOLE_MAX) break;
    if (s < STUB_HI && e > STUB_LO) continue;
    let ok = true;
    for (let i = 0; i < lo.length; i++) {
      if (s < unchecked(hi[i]) && e > unchecked(lo[i])) { ok = false; break; }
    }
    if (ok) return s;
  }
  return -1;
}

function indexOf(procs: Proc[], pid: i64): i32 {
  for (let i = 0; i < procs.length; i++) if (unchecked(procs[i]).pid == pid) return i;
  return -1;
}

/** Build the plan. Returns the output words described above. */
export function plan_build(input: ArrayBuffer): ArrayBuffer {
  const r = new Reader(input);
  if (r.next() != 1) return result(E_BAD_INPUT, 0, null);
  const flags = r.next();
  const shellJob = (flags & 1) != 0;
  const np = <i32>r.next();
  if (np <= 0 || np > 1 << 20) return result(E_BAD_INPUT, 0, null);
  const procs: Proc[] = [];
  const vlo: i64[] = [];
  const vhi: i64[] = [];
  for (let i = 0; i < np; i++) {
    const p = new Proc();
    p.pid = r.next(); p.ppid = r.next(); p.pgid = r.next(); p.sid = r.next();
    p.zombie = r.next() == 2;
    const nt = <i32>r.next();
    if (nt < 0 || nt > 1 << 20) return result(E_BAD_INPUT, p.pid, null);
    for (let t = 0; t < nt; t++) p.tids.push(r.next());
    const nv = <i32>r.next();
    if (nv < 0 || nv > 1 << 24) return result(E_BAD_INPUT, p.pid, null);
    for (let v = 0; v < nv; v++) { vlo.push(r.next()); vhi.push(r.next()); }
    const nf = <i32>r.next();
    if (nf < 0 || nf > 1 << 24) return result(E_BAD_INPUT, p.pid, null);
    for (let f = 0; f < nf; f++) { p.fds.push(r.next()); p.fds.push(r.next()); }
    if (r.bad) return result(E_BAD_INPUT, p.pid, null);
    if (indexOf(procs, p.pid) >= 0) return result(E_PID_DUP, p.pid, null);
    procs.push(p);
  }
  // Parents, the one root, duplicate tids.
  let root = -1;
  for (let i = 0; i < np; i++) {
    const p = unchecked(procs[i]);
    p.parent = indexOf(procs, p.ppid);
    if (p.parent < 0) {
      if (root >= 0) return result(E_ROOTS, p.pid, null);
      root = i;
    }
  }
  if (root < 0) return result(E_ROOTS, 0, null);
  const seen = new Set<i64>();
  for (let i = 0; i < np; i++) {
    const p = unchecked(procs[i]);
    for (let t = 0; t < p.tids.length; t++) {
      const tid = unchecked(p.tids[t]);
      if (seen.has(tid)) return result(E_PID_DUP, tid, null);
      seen.add(tid);
    }
  }
  // Breadth-first order from the root.
  const order: i32[] = [root];
  for (let k = 0; k < order.length; k++) {
    const cur = unchecked(procs[unchecked(order[k])]).pid;
    for (let i = 0; i < np; i++) if (unchecked(procs[i]).ppid == cur && i != root) order.push(i);
  }
  if (order.length != np) return result(E_ROOTS, 0, null); // a cycle: processes not reachable from the root

  const hole = findHole(vlo, vhi);
  if (hole < 0) return result(E_NO_HOLE, unchecked(procs[root]).pid, null);
  const out = new Out();
  // 1. processes and sessions. The root maps the gadget/scratch hole first;
  // children are made by injected clone3 and inherit it.
  // A process in a session whose leader is gone (the double-fork daemon under
  // a subreaper) is made by a helper: a process with the leader's pid, made by
  // the real parent, that calls setsid, makes the member, and exits; the member
  // is reparented to its real parent (made a subreaper for it), which reaps the helper.
  const helpers: i64[] = [];
  const helperParent: i64[] = [];
  for (let k = 0; k < order.length; k++) {
    const p = unchecked(procs[unchecked(order[k])]);
    let via: i64 = k == 0 ? 0 : p.ppid;
    if (k > 0) {
      const par = unchecked(procs[p.parent]);
      p.curSid = par.curSid; p.curPgid = par.curPgid;
      if (p.sid != p.pid && p.curSid != p.sid) {
        if (indexOf(procs, p.sid) >= 0) return result(E_SESSION, p.pid, null);
        if (!helpers.includes(p.sid)) {
          out.op(OP_HELPER, p.sid, p.ppid);
          helpers.push(p.sid);
          helperParent.push(p.ppid);
        }
        via = p.sid;
        p.curSid = p.sid; p.curPgid = p.sid;
      }
    }
    out.op(OP_FORK, p.pid, via, p.tids.length);
    if (k == 0) {
      p.curSid = 0; p.curPgid = 0; // whatever tscr has
      out.op(OP_GADGET, p.pid, hole, HOLE_SIZE);
    }
    if (p.sid == p.pid) {
      out.op(OP_SETSID, p.pid);
      p.curSid = p.pid; p.curPgid = p.pid;
    } else if (k == 0) {
      if (!shellJob) return result(E_SESSION, p.pid, null);
      p.curSid = p.sid;
    } else if (p.curSid != p.sid) {
      return result(E_SESSION, p.pid, null);
    }
  }
  for (let h = 0; h < helpers.length; h++) out.op(OP_HELPER_EXIT, unchecked(helpers[h]), unchecked(helperParent[h]));
  // 2. groups: leaders, then members.
  const groupHelpers: i64[] = [];
  const groupHelperParent: i64[] = [];
  for (let pass = 0; pass < 2; pass++) {
    for (let k = 0; k < order.length; k++) {
      const p = unchecked(procs[unchecked(order[k])]);
      if (p.curPgid == p.pgid) continue;
      const leader = p.pgid == p.pid;
      if ((pass == 0) != leader) continue;
      if (!leader) {
        const li = indexOf(procs, p.pgid);
        if (li < 0) {
          if (k == 0 && shellJob) continue;
          if (p.pgid == p.sid) return result(E_PGID, p.pid, null);
          // The group's leader is gone (a pipeline whose first command exited):
          // a helper with the leader's pid, made by this process (so in its
          // session), makes the group; this process joins it; the helper exits.
          if (!groupHelpers.includes(p.pgid)) {
            out.op(OP_GROUP_HELPER, p.pgid, p.pid);
            groupHelpers.push(p.pgid);
            groupHelperParent.push(p.pid);
          }
        } else if (unchecked(procs[li]).sid != p.sid) return result(E_PGID, p.pid, null);
      }
      out.op(OP_SETPGID, p.pid, p.pgid);
      p.curPgid = p.pgid;
    }
  }
  for (let h = 0; h < groupHelpers.length; h++) out.op(OP_HELPER_EXIT, unchecked(groupHelpers[h]), unchecked(groupHelperParent[h]));
  // Zombies exit now: every group they lead is in place, and their parents
  // are still clean stubs (no SIGCHLD handler yet).
  for (let k = order.length - 1; k >= 0; k--) {
    const p = unchecked(procs[unchecked(order[k])]);
    if (p.zombie) out.op(OP_ZOMBIE, p.pid, p.ppid);
  }
  // 3. per process state.
  const holderPid = new Map<i64, i64>();
  const holderFd = new Map<i64, i64>();
  for (let k = 0; k < order.length; k++) {
    const p = unchecked(procs[unchecked(order[k])]);
    if (p.zombie) continue;
    out.op(OP_MM, p.pid);
    out.op(OP_FS, p.pid);
    for (let f = 0; f < p.fds.length; f += 2) {
      const fd = unchecked(p.fds[f]);
      const id = unchecked(p.fds[f + 1]);
      if (holderPid.has(id)) {
        out.op(OP_FD, p.pid, fd, id, holderPid.get(id), holderFd.get(id));
      } else {
        out.op(OP_FD, p.pid, fd, id, 0, 0);
        holderPid.set(id, p.pid);
        holderFd.set(id, fd);
      }
    }
    for (let t = 1; t < p.tids.length; t++) out.op(OP_THREAD, p.pid, unchecked(p.tids[t]));
    out.op(OP_SIGACT, p.pid);
    out.op(OP_TIMERS, p.pid);
    out.op(OP_RLIMITS, p.pid);
  }
  for (let k = 0; k < order.length; k++) {
    const p = unchecked(procs[unchecked(order[k])]);
    if (!p.zombie) out.op(OP_FDS_DONE, p.pid);
  }
  // 4. credentials last, then pending signals, gadget removal, registers.
  for (let k = order.length - 1; k >= 0; k--) {
    const p = unchecked(procs[unchecked(order[k])]);
    if (p.zombie) continue;
    out.op(OP_CREDS, p.pid);
    out.op(OP_PENDING, p.pid);
    out.op(OP_UNGADGET, p.pid, hole, HOLE_SIZE);
    out.op(OP_REGS, p.pid);
  }
  out.op(OP_START, 0);
  return result(0, 0, out);
}
