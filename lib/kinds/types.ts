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

export interface DumpFdCtx {
  pid: number;
  fd: number;
  localFd: number;        // tscr's copy of the target's fd; valid during dump()
  link: string;           // readlink /proc/PID/fd/N, e.g. "pipe:[1234]", "/tmp/x (deleted)"
  stat: FdStat;
  info: FdInfo;
  /** Allocate/lookup a file id; the same open file description must get the same id. */
  fileId(key: string): { id: number; isNew: boolean };
  /** Append entries to another image of the dump (e.g. 'PIPES_DATA'). Returns the
   * entry's 1-based number within that magic (GHOST_FILE n -> ghost-file-n.img). */
  addEntry(magic: string, entry: any): number | void;
  /** Options from the command line (tcp-established, ext-unix-sk, ...). */
  opts: Record<string, unknown>;
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
}
