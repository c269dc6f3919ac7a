// Memory write tracking for incremental dumps (issue 7): userfaultfd
// write-protect in asynchronous mode + PAGEMAP_SCAN's PAGE_IS_WRITTEN, the
// soft-dirty replacement of kernels 6.7+.
//
//   tscr dump -R --track-mem ...     creates a userfaultfd inside each process (injected
//                                   syscall: it is bound to the process's mm), moves it to a
//                                   high fd (close-on-exec), registers its private anonymous
//                                   VMAs for write-protect (UFFD_FEATURE_WP_ASYNC: the kernel
//                                   resolves write faults itself, no handler thread) and
//                                   write-protects them after the checkpoint is written.
//   tscr dump --prev CKPT ...       for a process whose tracker was last armed by CKPT: pages
//                                   of still-registered VMAs that are present, not written
//                                   since (PAGE_IS_WRITTEN clear) and in CKPT's pagemap are
//                                   taken from CKPT without being read; everything else is
//                                   read (and, in an archive, deduplicated by hash as before).
//
// Which checkpoint a tracker was last armed against is kept on the host
// (STATE_DIR/<pid>-<starttime>.json), because any later `-R` dump re-arms it;
// each checkpoint carries `tscr-track.json` (its id and the tracker fds), a
// tscr-own file that CRIU tools ignore. The tracker fd is never dumped (the
// restored process does not get it) and is recognised by its number, its
// kind (anon_inode:[userfaultfd]) and its features (WP_ASYNC), or, in a child
// that inherited it by fork, by kcmp against the parent's.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, renameSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { ptraceShimRaw, uffdShimRaw, UFFD_FEATURE, PAGE_IS } from '../../shim/native.ts';
import { SYS } from '../ptrace.ts';
import { readProc, stat, fdLink } from '../proc.ts';
import { TscrError } from '../errors.ts';
import type { Injector } from './inject.ts';
import type { PageRun, VmaPlan, Vma } from './mm.ts';

export const TRACK_FILE = 'tscr-track.json';
const PAGE = 4096n;
const SYS_USERFAULTFD = 323;
const F_DUPFD_CLOEXEC = 1030;
const O_CLOEXEC = 0o2000000, O_NONBLOCK = 0o4000, UFFD_USER_MODE_ONLY = 1;
const FEATURES = UFFD_FEATURE.WP_ASYNC | UFFD_FEATURE.WP_UNPOPULATED;

export function stateDir(): string { return process.env.TSCR_TRACK_STATE_DIR ?? '/run/tscr/track'; }

export interface TrackState {
  pid: number; starttime: string; fd: number; ino: number;
  /** id of the checkpoint the tracker was last armed against */
  ckpt: string;
  /** ranges registered with the tracker when it was armed (hex start, hex end): only pages inside count as tracked */
  ranges: [string, string][];
}
export interface TrackRecord { version: 1; id: string; procs: { pid: number; fd: number }[] }

/** Per-process outcome, reported by the dump (--json: `track.procs`). */
export interface TrackProc {
  pid: number;
  /** tracking: unchanged pages taken from the parent without reading; hashing: every page read. */
  path: 'tracking' | 'hashing' | 'full' | 'none';
  reason?: string;
  trackedVmas?: number;
  writtenPages?: number;
  parentPages?: number;
  readPages?: number;
  armed?: boolean;
  /** time for the written-page scan and the read/parent split; for (re-)arming (both while frozen) */
  scanMs?: number;
  armMs?: number;
}

const starttime = (pid: number) => stat(pid).f[19];
const statePath = (pid: number, st: string) => join(stateDir(), `${pid}-${st}.json`);

export function loadState(pid: number): TrackState | null {
  let st: string;
  try { st = starttime(pid); } catch { return null; }
  const p = statePath(pid, st);
  if (!existsSync(p)) return null;
  try {
    const s = JSON.parse(readFileSync(p, 'utf8')) as TrackState;
    if (s.pid === pid && s.starttime === st && Number.isInteger(s.fd) && Array.isArray(s.ranges)) return s;
  } catch { /* damaged: treated as absent */ }
  return null;
}

export function saveState(s: TrackState): void {
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  const p = statePath(s.pid, s.starttime);
  writeFileSync(p + '.tmp', JSON.stringify(s) + '\n', { mode: 0o600 });
  renameSync(p + '.tmp', p);
}

export function dropState(pid: number): void {
  try { rmSync(statePath(pid, starttime(pid)), { force: true }); } catch { /* gone */ }
}

/** Remove state files of processes that no longer exist (or were replaced by another with the same pid). */
export function pruneStates(): void {
  let names: string[] = [];
  try { names = readdirSync(stateDir()); } catch { return; }
  for (const n of names) {
    const m = /^(\d+)-(\d+)\.json$/.exec(n);
    if (!m) continue;
    let live = false;
    try { live = starttime(Number(m[1])) === m[2]; } catch { live = false; }
    if (!live) rmSync(join(stateDir(), n), { force: true });
  }
}

/** fd `fd` of pid if it is a tscr-made tracker (a userfaultfd with WP_ASYNC): its inode number, else -1. */
export function trackerIno(pid: number, fd: number): number {
  let link = '';
  try { link = fdLink(pid, fd); } catch { return -1; }
  if (link !== 'anon_inode:[userfaultfd]') return -1;
  let info = '';
  try { info = readProc(pid, `fdinfo/${fd}`); } catch { return -1; }
  // API:\t<api>:<features>:<ioctls> (features include UFFD_FEATURE_INITIALIZED once UFFDIO_API ran)
  const m = /^API:\s+([0-9a-f]+):([0-9a-f]+):/m.exec(info);
  if (!m || (parseInt(m[2], 16) & UFFD_FEATURE.WP_ASYNC) === 0) return -1;
  const ino = /^ino:\s+(\d+)/m.exec(info);
  return ino ? Number(ino[1]) : 0;
}
const looksLikeTracker = (pid: number, fd: number) => trackerIno(pid, fd) >= 0;

/** The live tracker of pid, or null (a stale state file is removed). */
export function findTracker(pid: number): TrackState | null {
  const s = loadState(pid);
  if (!s) return null;
  if (trackerIno(pid, s.fd) !== s.ino) { dropState(pid); return null; }
  return s;
}

/**
 * fds of the tree that are trackers (their own, or one inherited by fork): never dumped.
 * `own` maps pid -> its tracker fd.
 */
export function trackerFdsOf(pid: number, own: Map<number, number>): Set<number> {
  const out = new Set<number>();
  const mine = own.get(pid);
  if (mine !== undefined) out.add(mine);
  if (own.size === 0) return out;
  let fds: string[] = [];
  try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return out; }
  const s = ptraceShimRaw();
  for (const f of fds) {
    const fd = Number(f);
    if (out.has(fd) || !looksLikeTracker(pid, fd)) continue;
    for (const [p, tfd] of own) if (p !== pid && s.kcmp(pid, p, 0 /* KCMP_FILE */, fd, tfd) === 0) { out.add(fd); break; }
  }
  return out;
}

/** The soft RLIMIT_NOFILE of pid (from /proc/PID/limits). */
function nofileSoft(pid: number): number {
  const m = /^Max open files\s+(\S+)/m.exec(readProc(pid, 'limits'));
  return !m || m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
}

/**
 * Create a tracker in a frozen process (its injector is open): userfaultfd()
 * inside it, moved to a high fd (close-on-exec), features enabled from here.
 * Returns the fd number in the process. Nothing is registered yet (arm() does that).
 */
export function createTracker(inj: Injector, pid: number): number {
  const r = inj.sys(SYS_USERFAULTFD, [O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY]);
  if (r < 0n) {
    throw new TscrError('E_UNSUPPORTED', `cannot create a userfaultfd in pid ${pid} for --track-mem (errno ${-r})`, { pid, hint: 'the process may run under a seccomp filter or a policy that forbids userfaultfd; dump without --track-mem' });
  }
  const low = Number(r);
  const soft = nofileSoft(pid);
  const want = Math.max(3, Math.min(soft, 1024) - 16);
  const hi = inj.sys(SYS.fcntl, [low, F_DUPFD_CLOEXEC, want]);
  inj.sys(SYS.close, [low]);
  if (hi < 0n) throw new TscrError('E_DUMP', `cannot move the tracker of pid ${pid} to a high fd (errno ${-hi})`, { pid });
  const fd = Number(hi);
  try {
    initApi(pid, fd);
  } catch (e) {
    inj.sys(SYS.close, [fd]); // leave the process as it was
    throw e;
  }
  return fd;
}

function initApi(pid: number, fd: number): void {
  withLocal(pid, fd, (local) => {
    const got = new BigUint64Array(1);
    const e = uffdShimRaw().api(local, FEATURES, got);
    if (e < 0) throw new TscrError('E_UNSUPPORTED', `userfaultfd write-protect tracking is not available (UFFDIO_API errno ${-e})`, { pid, fd, hint: 'needs Linux 6.7 or newer (UFFD_FEATURE_WP_ASYNC); dump without --track-mem' });
    if ((Number(got[0]) & FEATURES) !== FEATURES) throw new TscrError('E_UNSUPPORTED', 'this kernel lacks UFFD_FEATURE_WP_ASYNC/WP_UNPOPULATED', { pid, hint: 'dump without --track-mem' });
  });
}

/** Run fn with a local copy (pidfd_getfd) of the process's tracker. */
function withLocal<T>(pid: number, fd: number, fn: (local: number) => T): T {
  const s = ptraceShimRaw();
  const pfd = s.pidfd_open(pid, 0);
  if (pfd < 0) throw new TscrError('E_DUMP', `pidfd_open(${pid}) failed (errno ${-pfd})`, { pid });
  let local = -1;
  try {
    local = s.pidfd_getfd(pfd, fd);
    if (local < 0) throw new TscrError('E_DUMP', `cannot copy the tracker fd ${fd} of pid ${pid} (errno ${-local})`, { pid, fd });
    return fn(local);
  } finally {
    if (local >= 0) s.close(local);
    s.close(pfd);
  }
}

/** VMAs a tracker covers: private anonymous memory (heap, stack, anonymous mappings). */
export function trackable(v: Vma): boolean {
  const special = v.name === '[vdso]' || v.name === '[vvar]' || v.name === '[vvar_vclock]' || v.name === '[vsyscall]';
  return !special && v.prot[3] === 'p' && (v.ino === 0 || v.name === '') && !v.vmflags.has('ht') && !v.vmflags.has('pf') && !v.vmflags.has('io');
}

/**
 * (Re-)arm the tracker of a frozen process: register every trackable VMA for
 * write-protect (registering again with the same userfaultfd is allowed; new
 * VMAs join) and write-protect all of them, so that the next scan reports
 * what is written from now on. A VMA that a userfaultfd of the program itself
 * holds (EBUSY) is left out. Returns the ranges now tracked.
 */
export function arm(pid: number, fd: number, vmas: Vma[], log: (t: string) => void): [bigint, bigint][] {
  return withLocal(pid, fd, (local) => {
    const u = uffdShimRaw();
    const out: [bigint, bigint][] = [];
    for (const v of vmas) {
      if (!trackable(v)) continue;
      const len = v.end - v.start;
      const e = u.register_wp(local, v.start, len);
      if (e === -16 /* EBUSY */ || e === -22 /* EINVAL */) { log(`pid ${pid}: VMA ${v.start.toString(16)}-${v.end.toString(16)} not tracked (errno ${-e})`); continue; }
      if (e < 0) throw new TscrError('E_KERNEL', `UFFDIO_REGISTER of ${v.start.toString(16)}-${v.end.toString(16)} in pid ${pid} failed (errno ${-e})`, { pid });
      const w = u.writeprotect(local, v.start, len, 1);
      if (w < 0) throw new TscrError('E_KERNEL', `UFFDIO_WRITEPROTECT of ${v.start.toString(16)}-${v.end.toString(16)} in pid ${pid} failed (errno ${-w})`, { pid });
      const last = out[out.length - 1];
      if (last && last[1] === v.start) last[1] = v.end; else out.push([v.start, v.end]);
    }
    return out;
  });
}

// ---------------------------------------------------------------- the parent's pages

/** ParentPages id of a page the previous (directory) checkpoint itself keeps in its own parent. */
export const IN_GRANDPARENT = -3;

/** Where each present page of one process sits in the previous checkpoint: a page id of the parent's page space. */
export class ParentPages {
  private vaddr: number[] = []; private nr: number[] = []; private first: number[] = [];
  /** page ids (-1: an all-zero page the parent stored as nothing) */
  private ids: Int32Array = new Int32Array(0);
  private cur = 0;
  /** chain: count PE_PARENT entries too (id IN_GRANDPARENT): a directory child can point there through its parent. */
  constructor(vaddr: ArrayLike<number>, nrPages: ArrayLike<number>, flags: ArrayLike<number>, count: number, idOf: (idx: number) => number, chain = false) {
    let idx = 0;
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const f = flags[i];
      const inParent = (f & 1) !== 0;
      if (inParent ? !chain : !(f & 4)) continue; // PE_PRESENT pages stored in this pages file (+ PE_PARENT with chain)
      this.vaddr.push(vaddr[i] / 4096); this.nr.push(nrPages[i]); this.first.push(ids.length);
      for (let k = 0; k < nrPages[i]; k++) ids.push(inParent ? IN_GRANDPARENT : idOf(idx++));
    }
    this.ids = Int32Array.from(ids);
  }
  /** Parent page id of the page at page number pn, -1 for zero, undefined if the parent has no such page. Queries should ascend. */
  at(pn: number): number | undefined {
    if (this.cur >= this.vaddr.length || this.vaddr[this.cur] > pn) this.cur = 0;
    while (this.cur < this.vaddr.length && this.vaddr[this.cur] + this.nr[this.cur] <= pn) this.cur++;
    const c = this.cur;
    if (c >= this.vaddr.length || this.vaddr[c] > pn) return undefined;
    return this.ids[this.first[c] + pn - this.vaddr[c]];
  }
}

/** The previous checkpoint (archive or CRIU directory) as seen by the tracker: its record and each process's pages. */
export class PrevCheckpoint {
  record: TrackRecord | null = null;
  /** a directory child (CRIU parent semantics) may reference pages its parent keeps in a grandparent */
  chain = false;
  private dirStarts = new Map<string, number>();
  private reader: any = null;
  private constructor(readonly path: string, private isDir: boolean) {}

  static async open(path: string): Promise<PrevCheckpoint> {
    const isDir = statSync(path).isDirectory();
    const pc = new PrevCheckpoint(path, isDir);
    const arc = await import('../archive.ts');
    if (isDir) {
      let total = 0;
      for (const n of arc.imageFiles(path)) {
        const sz = statSync(join(path, n)).size;
        if (!arc.isPagesImage(n, sz)) continue;
        pc.dirStarts.set(n, total);
        total += sz / 4096;
      }
      const f = join(path, TRACK_FILE);
      if (existsSync(f)) pc.record = parseRecord(readFileSync(f, 'utf8'));
    } else {
      pc.reader = arc.ArchiveReader.open(path);
      if (pc.reader.list().some((e: any) => e.name === TRACK_FILE)) pc.record = parseRecord(Buffer.from(pc.reader.readFile(TRACK_FILE)).toString('utf8'));
    }
    return pc;
  }

  /** The parent pages of process pid, or null when the previous checkpoint has none. */
  async pagesOf(pid: number): Promise<ParentPages | null> {
    const { readPagemap } = await import('../images.ts');
    const name = `pagemap-${pid}.img`;
    let pm;
    if (this.isDir) {
      const f = join(this.path, name);
      if (!existsSync(f)) return null;
      pm = readPagemap(f);
      const start = this.dirStarts.get(`pages-${pm.pagesId}.img`) ?? 0;
      return new ParentPages(pm.vaddr, pm.nrPages, pm.flags, pm.count, (i) => start + i, this.chain);
    }
    const entries = this.reader.list() as any[];
    if (!entries.some((e) => e.name === name)) return null;
    pm = readPagemap(this.reader.readFile(name), { file: `${this.path}:${name}` });
    const pe = entries.find((e) => e.name === `pages-${pm.pagesId}.img`);
    if (!pe || pe.kind !== 'pages') return null;
    const refs = pe.refs as Uint32Array;
    return new ParentPages(pm.vaddr, pm.nrPages, pm.flags, pm.count, (i) => (i < refs.length ? refs[i] - 1 : -2));
  }

  close(): void { this.reader?.close(); this.reader = null; }
}

function parseRecord(text: string): TrackRecord | null {
  try {
    const r = JSON.parse(text);
    return r && r.version === 1 && typeof r.id === 'string' ? r : null;
  } catch { return null; }
}

// ---------------------------------------------------------------- the incremental split

/** Runs of pages written since the tracker was armed, in [start, end) (PAGEMAP_SCAN, no write-protect change). */
function writtenRanges(pmFd: number, start: bigint, end: bigint): [bigint, bigint][] {
  if (process.env.TSCR_TEST_REFUSE_WRITTEN_SCAN) throw new TscrError('E_KERNEL', 'PAGEMAP_SCAN refused (test hook)');
  const u = uffdShimRaw();
  const MAX = 4096;
  const out = new BigUint64Array(MAX * 3);
  const we = new BigUint64Array(1);
  const res: [bigint, bigint][] = [];
  let addr = start;
  while (addr < end) {
    const n = u.pm_scan(pmFd, addr, end, 0, PAGE_IS.WRITTEN, 0, PAGE_IS.WRITTEN, out, MAX, we);
    if (n < 0) throw new TscrError('E_KERNEL', `PAGEMAP_SCAN (written pages) failed (errno ${-n})`);
    for (let i = 0; i < n; i++) {
      let s = out[i * 3];
      const e = out[i * 3 + 1];
      if (e <= addr) continue;
      if (s < addr) s = addr;
      res.push([s, e]);
    }
    if (n < MAX) break;
    const next = out[(n - 1) * 3 + 1];
    if (next <= addr) break;
    addr = next;
  }
  return res;
}

export interface SplitResult { runs: PageRun[]; trackedVmas: number; writtenPages: number; parentPages: number; readPages: number }

/**
 * Split a process's page runs into pages to read and pages the parent holds:
 * a page is taken from the parent when its VMA is still registered with the
 * tracker ('uw' in smaps), it was not written since the tracker was armed,
 * and the parent stored it. Runs from the parent carry `parent` (page ids).
 */
export function splitRuns(pid: number, plans: VmaPlan[], runs: PageRun[], parent: ParentPages, armed: [string, string][], chain = false): SplitResult {
  const tracked = plans.filter((p) => p.dumpPages && p.kind === 'anon' && p.vma.vmflags.has('uw') && trackable(p.vma));
  // tracked = still registered ('uw') and inside what the tracker registered when it was armed
  const tv: [number, number][] = [];
  const ar = armed.map(([a, b]) => [Number(BigInt(a) / PAGE), Number(BigInt(b) / PAGE)]).sort((x, y) => x[0] - y[0]);
  for (const p of tracked) {
    const vs = Number(p.vma.start / PAGE), ve = Number(p.vma.end / PAGE);
    for (const [a, b] of ar) { const s0 = Math.max(a, vs), e0 = Math.min(b, ve); if (s0 < e0) tv.push([s0, e0]); }
  }
  const res: SplitResult = { runs: [], trackedVmas: tracked.length, writtenPages: 0, parentPages: 0, readPages: 0 };
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  // written ranges of every tracked range, in address order
  const written: [bigint, bigint][] = [];
  try {
    for (const [a, b] of tv) for (const r of writtenRanges(fd, BigInt(a) * PAGE, BigInt(b) * PAGE)) { written.push(r); res.writtenPages += Number((r[1] - r[0]) / PAGE); }
  } finally { closeSync(fd); }
  // page numbers as Numbers (user addresses are < 2^47): no BigInt per page
  const wr = written.map(([a, b]) => [Number(a / PAGE), Number(b / PAGE)]);
  let ti = 0, wi = 0;
  for (const r of runs) {
    const first = Number(r.start / PAGE);
    let cur: PageRun | null = null; // the run being built (read or parent)
    for (let k = 0; k < r.nr; k++) {
      const pn = first + k;
      while (ti < tv.length && tv[ti][1] <= pn) ti++;
      let id: number | undefined;
      if (ti < tv.length && tv[ti][0] <= pn) {
        while (wi < wr.length && wr[wi][1] <= pn) wi++;
        if (!(wi < wr.length && wr[wi][0] <= pn)) {
          const x = parent.at(pn);
          if (x !== undefined && (chain || x >= -1)) id = x;
        }
      }
      const fromParent = id !== undefined;
      if (fromParent) res.parentPages++; else res.readPages++;
      if (cur && !!cur.parent === fromParent) {
        cur.nr++;
        if (fromParent) cur.parent!.push(id!);
      } else {
        cur = { start: BigInt(pn) * PAGE, nr: 1, lazy: r.lazy, readable: r.readable, ...(fromParent ? { parent: [id!] } : {}) };
        res.runs.push(cur);
      }
    }
  }
  return res;
}

