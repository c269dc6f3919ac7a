// Host side of the restore plan (core-as/assembly/plan.ts): packs a compact
// description of the checkpoint into i64 words, runs the planner in Wasm and
// decodes the op list. Pure: no shim, works on any OS (tscr restore --dry-run).
import { core, passBytes, release, takeBytes } from '../../core-as/host.ts';
import { TscrError } from '../errors.ts';

export const OPS = {
  1: 'fork', 2: 'setsid', 3: 'setpgid', 4: 'gadget', 5: 'mm', 6: 'fs', 7: 'fd', 8: 'thread',
  9: 'sigactions', 10: 'timers', 11: 'rlimits', 12: 'creds', 13: 'pending', 14: 'ungadget', 15: 'regs', 16: 'start',
  17: 'fds-done', 18: 'zombie', 19: 'helper', 20: 'helper-exit', 21: 'group-helper',
} as const;
export type OpName = (typeof OPS)[keyof typeof OPS];

export interface PlanOp { op: OpName; pid: number; a: number; b: number; c: number; d: number }

export interface PlanProc {
  pid: number; ppid: number; pgid: number; sid: number;
  zombie?: boolean;
  tids: number[];
  vmas: Array<[bigint, bigint]>;
  fds: Array<[number, number]>;   // fd, file id
}

const ERRORS: Record<number, (pid: number) => [string, string]> = {
  1: (pid) => [`the checkpoint description is malformed near pid ${pid}`, 'the images may be corrupt: run `tscr validate -D DIR`'],
  2: (pid) => [`the process tree does not have exactly one root (pid ${pid})`, 'pstree.img must describe one tree: run `tscr validate -D DIR`'],
  3: (pid) => [`pid ${pid} is in a session that cannot be recreated without a helper process`,
    'if the tree was started from a shell, restore with --shell-job'],
  4: (pid) => [`pid ${pid} is in a process group whose leader is not in the checkpoint`,
    'if the tree was started from a shell, restore with --shell-job'],
  5: (pid) => [`no free address range for the restore gadget in the address spaces of the tree (pid ${pid})`, 'this address layout is not supported yet'],
  6: (pid) => [`pid/tid ${pid} appears twice in the checkpoint`, 'the images are inconsistent: run `tscr validate -D DIR`'],
};

export function buildPlan(procs: PlanProc[], opts: { shellJob?: boolean } = {}): PlanOp[] {
  const words: bigint[] = [1n, opts.shellJob ? 1n : 0n, BigInt(procs.length)];
  for (const p of procs) {
    words.push(BigInt(p.pid), BigInt(p.ppid), BigInt(p.pgid), BigInt(p.sid), p.zombie ? 2n : 1n, BigInt(p.tids.length));
    for (const t of p.tids) words.push(BigInt(t));
    words.push(BigInt(p.vmas.length));
    for (const [s, e] of p.vmas) words.push(s, e);
    words.push(BigInt(p.fds.length));
    for (const [fd, id] of p.fds) words.push(BigInt(fd), BigInt(id));
  }
  const buf = new BigInt64Array(words.length);
  words.forEach((w, i) => { buf[i] = BigInt.asIntN(64, w); });
  const ex = core();
  const inPtr = passBytes(new Uint8Array(buf.buffer));
  let out: Uint8Array;
  try {
    out = takeBytes(ex.plan_build(inPtr));
  } finally {
    release(inPtr);
  }
  const w = new BigInt64Array(out.buffer, out.byteOffset, out.byteLength / 8);
  const status = Number(w[0]);
  if (status !== 0) {
    const [msg, hint] = (ERRORS[status] ?? ((pid: number) => [`restore planning failed (code ${status}, pid ${pid})`, '']))(Number(w[1]));
    throw new TscrError('E_RESTORE', msg, { pid: Number(w[1]) || undefined, hint });
  }
  const n = Number(w[2]);
  const ops: PlanOp[] = [];
  for (let i = 0; i < n; i++) {
    const o = 3 + i * 6;
    ops.push({ op: (OPS as any)[Number(w[o])], pid: Number(w[o + 1]), a: Number(w[o + 2]), b: Number(w[o + 3]), c: Number(w[o + 4]), d: Number(w[o + 5]) });
  }
  return ops;
}

const hex = (n: number) => '0x' + n.toString(16);

/** One line per op, for --dry-run. */
export function describeOp(o: PlanOp): string {
  switch (o.op) {
    case 'fork': return o.a ? `fork    pid ${o.pid} from ${o.a} (${o.b} thread${o.b === 1 ? '' : 's'})` : `fork    pid ${o.pid} from tscr (root, ${o.b} thread${o.b === 1 ? '' : 's'})`;
    case 'setsid': return `setsid  pid ${o.pid} (session leader)`;
    case 'setpgid': return `setpgid pid ${o.pid} -> group ${o.a}`;
    case 'gadget': return `gadget  map syscall page + scratch at ${hex(o.a)} (${o.b >> 10} KiB) in pid ${o.pid}; children inherit it`;
    case 'mm': return `mm      pid ${o.pid}: move vdso/vvar, unmap the stub, map VMAs, fill pages, mprotect, PR_SET_MM_MAP`;
    case 'fs': return `fs      pid ${o.pid}: cwd, root, umask`;
    case 'fd': return o.c === 0 ? `fd      pid ${o.pid} fd ${o.a}: open file ${o.b}` : o.c === o.pid ? `fd      pid ${o.pid} fd ${o.a}: dup of fd ${o.d} (file ${o.b})` : `fd      pid ${o.pid} fd ${o.a}: take file ${o.b} from pid ${o.c} fd ${o.d} (pidfd_getfd)`;
    case 'thread': return `thread  pid ${o.pid}: clone3 tid ${o.a}`;
    case 'sigactions': return `sigact  pid ${o.pid}: signal handlers`;
    case 'timers': return `timers  pid ${o.pid}: itimers, POSIX timers`;
    case 'rlimits': return `rlimit  pid ${o.pid}`;
    case 'fds-done': return `fds     pid ${o.pid}: close temporaries`;
    case 'creds': return `creds   pid ${o.pid}`;
    case 'pending': return `pending pid ${o.pid}: queue pending signals`;
    case 'ungadget': return `unmap   pid ${o.pid}: remove gadget ${hex(o.a)}`;
    case 'regs': return `regs    pid ${o.pid}: registers, FPU/xstate, sigmask of every thread`;
    case 'helper': return `helper  pid ${o.pid} from ${o.a}: setsid (stands in for a session leader that is gone)`;
    case 'helper-exit': return `helper  pid ${o.pid} exits; ${o.a} reaps it (and adopts its children, as a subreaper)`;
    case 'group-helper': return `helper  pid ${o.pid} from ${o.a}: setpgid(0, 0) (stands in for a group leader that is gone)`;
    case 'zombie': return `zombie  pid ${o.pid} exits; parent ${o.a} keeps it unreaped`;
    case 'start': return 'start   detach every thread at once';
  }
  return JSON.stringify(o);
}
