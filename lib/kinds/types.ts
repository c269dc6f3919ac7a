// The contract between the dump/restore engines and the per-kind fd modules.
// One module per kernel object kind (lib/kinds/<kind>.ts) exports a FdKind,
// registered in lib/kinds/index.ts. classify() picks the handler for each fd,
// or returns an explicit "unsupported: <what>" error naming the fd and pid.
//
// Dump side: the engine gives the module tscr's own copy of the target's fd
// (pidfd_getfd), the /proc fdinfo fields and fstat. The module returns the
// files.img entry (crit shape: {id, type, <kind>: {...}}) and may add entries
// to other images (pipes-data, sk-queues, ...) through ctx.images.
//
// Restore side: the module re-creates the object inside tscr's own process and
// returns a local fd; the engine moves it into the target (injected
// pidfd_open + pidfd_getfd + dup3) at the fd number the image says. Objects
// that several fds share (two ends of a pipe, a socketpair, one open file
// description in several processes) are created once: use ctx.shared.

export interface FdStat {
  mode: number; dev: bigint; ino: bigint; rdev: bigint; size: bigint; uid: number; gid: number;
}

export interface FdInfo {
  pos: bigint;
  flags: number;          // octal field of fdinfo, parsed
  mntId: number;
  fields: Record<string, string>;   // every other fdinfo line, raw ("eventfd-count" -> "7")
  lines: string[];                  // raw lines (for repeated keys: tfd, inotify wd, ...)
}

export interface ShmemSink {
  pages(off: number, data: Buffer): void;
  end(): void;
  /** Optional fast path: the pages file's fd (append at its end) and a way to record a run written there directly. */
  fd?: number;
  wrote?(off: number, len: number): void;
}

export interface DumpFdCtx {
  pid: number;
  fd: number;
  localFd: number;        // tscr's copy of the target's fd; valid during dump()
  link: string;           // readlink /proc/PID/fd/N, e.g. "pipe:[1234]", "/tmp/x (deleted)"
  stat: FdStat;
  info: FdInfo;
  /**
   * Allocate/lookup a file id; the same open file description must get the same id.
   * The engine confirms sameness with kcmp(KCMP_FILE) among fds of one key, so a
   * key names the object kind (and inode), e.g. 'timerfd', `pipe:${ino}`.
   */
  fileId(key: string): { id: number; isNew: boolean };
  /** Append entries to another image of the dump (e.g. 'PIPES_DATA'). Returns the
   * entry's 1-based number within that magic (GHOST_FILE n -> ghost-file-n.img). */
  addEntry(magic: string, entry: any): number | void;
  /** Options from the command line (tcp-established, ext-unix-sk, ...). */
  opts: Record<string, unknown>;
  log(text: string): void;
  // ---- optional, added for issue 4 (fd kinds); engines that lack them still work for other kinds ----
  /** Per-dump cache shared by every fd of every process of the dump (keyed by the module). */
  shared?: Map<string, unknown>;
  /**
   * Contents of a shmem inode (memfd, MAP_SHARED anonymous memory), as runs of
   * whole pages at byte offsets. The engine writes pagemap-shmem-<shmid>.img
   * (head {pages_id}, then {vaddr: '0x<off>', compat_nr_pages: 0, flags: 'PE_PRESENT',
   * nr_pages}) and the bytes to pages-<pages_id>.img, as CRIU 4.2 does.
   */
  writeShmem?(shmid: number, runs: { off: number; data: Buffer }[]): void;
  /**
   * Streaming form of writeShmem (preferred when present: no copy of the
   * contents is held in memory): pages(off, data) appends whole pages at byte
   * offset `off` of the shmem object (data is only valid during the call), end()
   * closes it. Same images as writeShmem.
   */
  openShmem?(shmid: number): ShmemSink;
  // ---- optional, added for issue 5 (inet sockets) ----
  /** Write a whole image file of its own, e.g. 'tcp-stream-14b925.img' (CRIU keeps
   *  one TCP_STREAM image per socket inode). Without it, the inet module falls
   *  back to addEntry('TCP_STREAM', {...entry, ino}). */
  addImageFile?(file: string, magic: string, entries: any[]): void;
}

/** Given once to FdKind.finishDump after every fd of every process was dumped. */
export interface FinishDumpCtx {
  shared: Map<string, unknown>;
  opts: Record<string, unknown>;
  addEntry(magic: string, entry: any): void;
  fileId(key: string): { id: number; isNew: boolean };
  log(text: string): void;
}

export interface RestoreFdCtx {
  pid: number;
  fd: number;
  /** Images of the checkpoint, by magic. */
  image(magic: string): any[];
  /** Per-restore cache for objects shared by several fds (keyed by the module). */
  shared: Map<string, unknown>;
  opts: Record<string, unknown>;
  log(text: string): void;
  // ---- optional, added for issue 4 ----
  /**
   * A local fd (a dup; the caller closes it) of the open file description the
   * engine installs, or will install, at fd number `fd` of this process (ctx.pid).
   * The engine restores it on demand if it has not yet (cache by file id).
   * epoll needs it: its watches name the target's fd numbers.
   */
  localFd?(fd: number): number | Promise<number>;
  /** Where the pages of shmem `shmid` are (pagemap-shmem-<shmid>.img + its pages file; copied file to memfd in C, never through JS); null when it has none. */
  shmemSource?(shmid: number): { file: string; runs: { off: number; fileOff: number; len: number }[] } | null;
  /** Run fn once every fd of the restore is installed (or the restore failed): close cached fds. */
  defer?(fn: () => void): void;
  // ---- optional, added for issue 5 ----
  /** The entries of one image file by name, e.g. 'tcp-stream-14b925.img', or null
   *  if the checkpoint has no such file. */
  imageFile?(file: string): any[] | null;
}

/** Outcome given to FdKind.dumpDone (issue 5). */
export interface DumpOutcome {
  ok: boolean;            // the whole dump succeeded (images written)
  treeKilled: boolean;    // the dumped tree was killed (not --leave-running)
  log(text: string): void;
}

export interface FdKind {
  /** Name used in messages, e.g. 'pipe', 'unix socket'. */
  kind: string;
  /** The files.img entry type(s) this module restores, e.g. ['PIPE']. */
  types: string[];
  /** Does this module handle the fd? Called in table order. */
  match(ctx: DumpFdCtx): boolean;
  /** Returns the files.img entry for this fd (crit shape), or null if another fd already described it (shared id). */
  dump(ctx: DumpFdCtx): any | null;
  /** Create the object in tscr's process; return the local fd to install as ctx.fd in the target. */
  restore(ctx: RestoreFdCtx, fileEntry: any, fdinfo: any): number | Promise<number>;
  // ---- optional, added for issue 4 ----
  /** Called once after every fd of every process of the tree was dumped (cross-fd checks, e.g. unix peers outside the tree). */
  finishDump?(ctx: FinishDumpCtx): void;
  // ---- optional, added for issue 5 (inet sockets, network lock) ----
  /** Called once at the very end of a dump, success or failure, with
   *  DumpFdCtx.shared. The inet module leaves TCP repair mode and unlocks the
   *  network when the tree keeps running or the dump failed, and keeps the lock
   *  (the restore releases it) when the tree was killed. Must not throw. */
  dumpDone?(shared: Map<string, unknown>, outcome: DumpOutcome): void;
  /** Called once after every fd of every process is installed and before the
   *  tree resumes (ok=true), or when a restore fails (ok=false, whatever failed), with
   *  RestoreFdCtx.shared. The inet module leaves TCP repair mode and unlocks the
   *  network here. Must not throw. */
  restoreDone?(shared: Map<string, unknown>, ok: boolean, log: (text: string) => void, opts?: Record<string, unknown>): void;
}
// Ownership rule (issue 4 modules): restore() returns a NEW local fd (a dup)
// that the engine owns and closes once installed; calling restore() again for
// the same file id returns another dup of the same open file description.
// Objects cached in ctx.shared are closed through ctx.defer.
// A module may add entries to FILES through ctx.addEntry('FILES', entry) (e.g.
// the REG entry a FIFO names by regf_id); the engine puts them in files.img.
