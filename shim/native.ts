// The one module that talks to koffi. Every native prototype of the shim is
// declared here, once, and every status goes through check().
//
// koffi is loaded lazily (createRequire inside a function), so importing this
// module costs nothing and offline commands, which never call shim(), never load
// native code. Only call these functions from the tracer thread (shim/worker.ts):
// the kernel ties ptrace to the OS thread that attached.
//
// C conventions (shim/*.c, declared in shim/tscr.h):
// - functions return int: >= 0 success (or a value), < 0 is -errno
// - flat structs and caller-owned buffers; no pointer returned by C is owned by JS
//   unless the prototype's comment says so.
//
// Sections: one per area, each owned by one developer. Add prototypes to your
// own section only.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { SHIM_SO } from '../lib/paths.ts';
import { TscrError, type ErrorWhere } from '../lib/errors.ts';

type Koffi = any;
let koffiMod: Koffi | null = null;
let lib: any = null;

/** Load koffi and the shim library (once). Throws E_NO_SHIM with a hint on hosts without it. */
export function loadShim(): { koffi: Koffi; lib: any } {
  if (lib) return { koffi: koffiMod, lib };
  if (process.env.TSCR_FORBID_SHIM) {
    throw new TscrError('E_INTERNAL', 'the native shim was loaded by a command that must work without it (TSCR_FORBID_SHIM is set)');
  }
  if (process.platform !== 'linux') {
    throw new TscrError('E_NO_SHIM', `this command needs Linux (this host is ${process.platform})`, { hint: 'offline commands (decode, show, validate, diff, mem, convert) work here' });
  }
  if (!existsSync(SHIM_SO)) {
    throw new TscrError('E_NO_SHIM', `the native shim is not built (${SHIM_SO})`, { hint: 'install a C compiler (apt-get install gcc) and run `npm install` again' });
  }
  const require = createRequire(import.meta.url);
  koffiMod = require('koffi');
  lib = koffiMod.load(SHIM_SO);
  return { koffi: koffiMod, lib };
}

/** errno names for messages. */
const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 9: 'EBADF', 10: 'ECHILD', 11: 'EAGAIN', 12: 'ENOMEM',
  13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 24: 'EMFILE',
  28: 'ENOSPC', 32: 'EPIPE', 38: 'ENOSYS', 95: 'EOPNOTSUPP', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 110: 'ETIMEDOUT',
};
export function errnoName(e: number): string { return ERRNO[e] ?? `errno ${e}`; }

/**
 * The one status check. `rc` < 0 is -errno: throw a TscrError saying what
 * failed, with the pid/fd it concerns.
 */
export function check(rc: number | bigint, what: string, where: ErrorWhere = {}, code: 'E_KERNEL' | 'E_PTRACE' = 'E_KERNEL'): number {
  const n = typeof rc === 'bigint' ? Number(rc) : rc;
  if (n < 0) {
    const e = -n;
    throw new TscrError(code, `${what} failed: ${errnoName(e)}`, { ...where, errno: e });
  }
  return n;
}

// ---------------------------------------------------------------------------
// Section: process control, ptrace, memory (owner: dump — issue 3)
// ---------------------------------------------------------------------------
// Raw prototypes of shim/ptrace.c (return >= 0 or -errno), bound once, plus thin
// checked wrappers. Buffers passed as `void *` must be Node Buffers/typed arrays.
// Call from the tracer thread only (shim/worker.ts), except spawn/kill/pidfd.

export const PTRACE_O = {
  TRACESYSGOOD: 1, TRACEFORK: 2, TRACEVFORK: 4, TRACECLONE: 8, TRACEEXEC: 0x10, TRACEVFORKDONE: 0x20,
  TRACEEXIT: 0x40, TRACESECCOMP: 0x80, EXITKILL: 0x100000, SUSPEND_SECCOMP: 0x200000,
} as const;
export const PTRACE_EVENT = { FORK: 1, VFORK: 2, CLONE: 3, EXEC: 4, VFORK_DONE: 5, EXIT: 6, SECCOMP: 7, STOP: 128 } as const;
export const NT = { PRSTATUS: 1, PRFPREG: 2, X86_XSTATE: 0x202 } as const;
export const INJ_POKE = 1;
export const SPAWN = { SETSID: 1, DAEMON: 2, NULLIO: 4 } as const;

export interface PtraceShim {
  seize(tid: number, options: number): number;
  interrupt(tid: number): number;
  detach(tid: number, sig: number): number;
  cont(tid: number, sig: number): number;
  listen(tid: number): number;
  set_options(tid: number, options: number): number;
  geteventmsg(tid: number, out8: Buffer): number;
  getsiginfo(tid: number, out128: Buffer): number;
  peeksiginfo(tid: number, shared: number, off: number | bigint, max: number, out: Buffer): number;
  wait(tid: number, timeoutMs: number, status4: Int32Array): number;
  getregset(tid: number, nt: number, buf: Buffer, len: number): number;
  setregset(tid: number, nt: number, buf: Buffer, len: number): number;
  get_rseq(tid: number, out32: Buffer): number;
  peek(tid: number, addr: bigint | number, out8: Buffer): number;
  poke(tid: number, addr: bigint | number, word: bigint | number): number;
  inject(tid: number, nr: number, args6: BigInt64Array, gadget: bigint | number, flags: number, ret8: BigInt64Array, sig4: Int32Array): number;
  vm_readv(pid: number, local: Buffer | Uint8Array, ranges: BigUint64Array, n: number): number | bigint;
  vm_writev(pid: number, local: Buffer | Uint8Array, ranges: BigUint64Array, n: number): number | bigint;
  vm_read(pid: number, remote: bigint | number, local: Buffer | Uint8Array, len: number | bigint): number | bigint;
  vm_write(pid: number, remote: bigint | number, local: Buffer | Uint8Array, len: number | bigint): number | bigint;
  pread(fd: number, buf: Buffer | Uint8Array, len: number | bigint, off: number | bigint): number | bigint;
  pwrite(fd: number, buf: Buffer | Uint8Array, len: number | bigint, off: number | bigint): number | bigint;
  pagemap_scan(fd: number, start: bigint | number, end: bigint | number, anyof: number, retmask: number, out: BigUint64Array, max: number, walkEnd: BigUint64Array): number;
  is_zero_buf(buf: Buffer | Uint8Array, len: number): number;
  pidfd_open(pid: number, flags: number): number;
  pidfd_getfd(pidfd: number, fd: number): number;
  close(fd: number): number;
  kill(pid: number, sig: number): number;
  tgkill(tgid: number, tid: number, sig: number): number;
  getrlimit(pid: number, res: number, out16: BigUint64Array): number;
  spawn(path: string, argvBlock: Buffer, argc: number, flags: number): number;
  waitpid(pid: number, options: number, status4: Int32Array): number;
  kcmp(pid1: number, pid2: number, type: number, idx1: number, idx2: number): number;
  clock(clk: number, out: BigInt64Array): number;
  cpuid(leaf: number, sub: number, out: Uint32Array): number;
  /** out[i] = 1 for each all-zero page of npages at addr; returns the zero count. */
  scan_zero(pid: number, addr: bigint | number, npages: number, out: Uint8Array): number | bigint;
  /** Copy remote ranges into out_fd, reading and writing in parallel (two 8 MiB buffers). */
  copy_pages(pid: number, ranges: BigUint64Array, n: number, outFd: number, memFd: number, failAddr: BigUint64Array): number | bigint;
  /** copy_pages that also starts writeback (sync_file_range WRITE) of every wbBytes written (0 = never). */
  copy_pages_wb(pid: number, ranges: BigUint64Array, n: number, outFd: number, memFd: number, failAddr: BigUint64Array, wbBytes: number | bigint): number | bigint;
  /** BPF program of seccomp filter idx (0 = oldest) into buf (32 KiB); returns its instruction count. */
  seccomp_filter(tid: number, idx: number, buf: Buffer): number;
  /** Flags of seccomp filter idx. */
  seccomp_flags(tid: number, idx: number, out: BigUint64Array): number;
}

let ptraceShim: PtraceShim | null = null;

/** The ptrace/memory prototypes of shim/ptrace.c, bound once (loads koffi). */
export function ptraceShimRaw(): PtraceShim {
  if (ptraceShim) return ptraceShim;
  const { lib: l } = loadShim();
  const f = (proto: string) => l.func(proto);
  ptraceShim = {
    seize: f('int tscr_seize(int tid, uint32_t options)'),
    interrupt: f('int tscr_interrupt(int tid)'),
    detach: f('int tscr_detach(int tid, int sig)'),
    cont: f('int tscr_cont(int tid, int sig)'),
    listen: f('int tscr_listen(int tid)'),
    set_options: f('int tscr_set_options(int tid, uint32_t options)'),
    geteventmsg: f('int tscr_geteventmsg(int tid, void *msg)'),
    getsiginfo: f('int tscr_getsiginfo(int tid, void *si)'),
    peeksiginfo: f('int tscr_peeksiginfo(int tid, int shared, uint64_t off, int max, void *out)'),
    wait: f('int tscr_wait(int tid, int timeout_ms, void *status)'),
    getregset: f('int tscr_getregset(int tid, int nt, void *buf, int len)'),
    setregset: f('int tscr_setregset(int tid, int nt, void *buf, int len)'),
    get_rseq: f('int tscr_get_rseq(int tid, void *out)'),
    peek: f('int tscr_peek(int tid, uint64_t addr, void *word)'),
    poke: f('int tscr_poke(int tid, uint64_t addr, uint64_t word)'),
    inject: f('int tscr_inject(int tid, int64_t nr, void *args, uint64_t gadget, int flags, void *ret, void *sig)'),
    vm_readv: f('int64_t tscr_vm_readv(int pid, void *local, void *ranges, int n)'),
    vm_writev: f('int64_t tscr_vm_writev(int pid, void *local, void *ranges, int n)'),
    vm_read: f('int64_t tscr_vm_read(int pid, uint64_t remote, void *local, uint64_t len)'),
    vm_write: f('int64_t tscr_vm_write(int pid, uint64_t remote, void *local, uint64_t len)'),
    pread: f('int64_t tscr_pread(int fd, void *buf, uint64_t len, uint64_t off)'),
    pwrite: f('int64_t tscr_pwrite(int fd, void *buf, uint64_t len, uint64_t off)'),
    pagemap_scan: f('int tscr_pagemap_scan(int fd, uint64_t start, uint64_t end, uint64_t anyof, uint64_t retmask, void *out, int max, void *walk_end)'),
    // same C function as tscr_is_zero(uint64_t addr, ...): a pointer and a u64 travel alike on x86_64
    is_zero_buf: f('int tscr_is_zero(void *buf, uint64_t len)'),
    pidfd_open: f('int tscr_pidfd_open(int pid, uint32_t flags)'),
    pidfd_getfd: f('int tscr_pidfd_getfd(int pidfd, int fd)'),
    close: f('int tscr_close(int fd)'),
    kill: f('int tscr_kill(int pid, int sig)'),
    tgkill: f('int tscr_tgkill(int tgid, int tid, int sig)'),
    getrlimit: f('int tscr_getrlimit(int pid, int res, void *out)'),
    spawn: f('int tscr_spawn(const char *path, void *argv_block, int argc, int flags)'),
    waitpid: f('int tscr_waitpid(int pid, int options, void *status)'),
    kcmp: f('int tscr_kcmp(int pid1, int pid2, int type, uint64_t idx1, uint64_t idx2)'),
    clock: f('int tscr_clock(int clk, void *out)'),
    cpuid: f('int tscr_cpuid(uint32_t leaf, uint32_t sub, void *out)'),
    scan_zero: f('int64_t tscr_scan_zero(int pid, uint64_t addr, uint64_t npages, void *out)'),
    copy_pages: f('int64_t tscr_copy_pages(int pid, void *ranges, int n, int out_fd, int mem_fd, void *fail_addr)'),
    copy_pages_wb: f('int64_t tscr_copy_pages_wb(int pid, void *ranges, int n, int out_fd, int mem_fd, void *fail_addr, uint64_t wb_bytes)'),
    seccomp_filter: f('int tscr_seccomp_filter(int tid, int idx, void *buf)'),
    seccomp_flags: f('int tscr_seccomp_flags(int tid, int idx, void *flags)'),
  };
  return ptraceShim;
}

/** Address of a Buffer's memory (for alignment), via koffi. */
export function bufferAddress(b: Uint8Array): bigint {
  const { koffi } = loadShim();
  return BigInt(koffi.address(b));
}

/** A page-aligned Buffer of `len` bytes (process_vm_readv runs ~30% faster into it). */
export function alignedBuffer(len: number, align = 4096): Buffer {
  const raw = Buffer.allocUnsafeSlow(len + align);
  const a = bufferAddress(raw);
  const off = Number((BigInt(align) - (a % BigInt(align))) % BigInt(align));
  return raw.subarray(off, off + len);
}

/** Start a program in C (fork+exec; never a child_process child). Returns its pid. */
export function spawnProgram(path: string, argv: string[], flags = 0): number {
  const block = Buffer.concat(argv.map((a) => Buffer.from(a + '\0')));
  return check(ptraceShimRaw().spawn(path, block, argv.length, flags), `starting ${path}`, {}, 'E_KERNEL');
}

// ---------------------------------------------------------------------------
// Section: restore primitives: stubs, clone3 with set_tid (owner: restore — issue 3)
// ---------------------------------------------------------------------------

/** Restore primitives (shim/restore.c). Call only from the thread that made the processes (the tracer). */
export interface RestoreShim {
  spawn(pid: number, stub: string): number;
  syscall(tid: number, gadget: bigint, nr: number, args: Buffer, out: Buffer): number;
  getregs(tid: number, buf: Buffer): number;
  setregs(tid: number, buf: Buffer): number;
  getregset(tid: number, nt: number, buf: Buffer, len: number): number;
  setregset(tid: number, nt: number, buf: Buffer, len: number): number;
  setsigmask(tid: number, mask: bigint): number;
  detach(tid: number, sig: number): number;
  kill(pid: number, sig: number): number;
  pidFree(pid: number): number;
  wait(pid: number, flags: number, status: Buffer): number;
  vmWrite(pid: number, remote: bigint, local: Buffer, len: number): number | bigint;
  vmRead(pid: number, remote: bigint, local: Buffer, len: number): number | bigint;
  fill(pid: number, fd: number, runs: Buffer, n: number): number | bigint;
  prlimit(pid: number, res: number, cur: bigint, max: bigint): number;
  start(path: string, arg1: string | null, logpath: string | null): number;
}
let restoreShim: RestoreShim | null = null;
export function restoreNative(): RestoreShim {
  if (restoreShim) return restoreShim;
  const { lib: l } = loadShim();
  restoreShim = {
    spawn: l.func('int tscr_rs_spawn(int pid, const char *stub)'),
    syscall: l.func('int tscr_rs_syscall(int tid, uint64_t gadget, int64_t nr, const void *args, void *out)'),
    getregs: l.func('int tscr_rs_getregs(int tid, void *regs)'),
    setregs: l.func('int tscr_rs_setregs(int tid, const void *regs)'),
    getregset: l.func('int tscr_rs_getregset(int tid, int nt, void *buf, int len)'),
    setregset: l.func('int tscr_rs_setregset(int tid, int nt, const void *buf, int len)'),
    setsigmask: l.func('int tscr_rs_setsigmask(int tid, uint64_t mask)'),
    detach: l.func('int tscr_rs_detach(int tid, int sig)'),
    kill: l.func('int tscr_rs_kill(int pid, int sig)'),
    pidFree: l.func('int tscr_rs_pid_free(int pid)'),
    wait: l.func('int tscr_rs_wait(int pid, int flags, void *status)'),
    vmWrite: l.func('int64_t tscr_rs_vm_write(int pid, uint64_t remote, const void *local, uint64_t len)'),
    vmRead: l.func('int64_t tscr_rs_vm_read(int pid, uint64_t remote, void *local, uint64_t len)'),
    fill: l.func('int64_t tscr_rs_fill(int pid, int fd, const void *runs, int n)'),
    prlimit: l.func('int tscr_rs_prlimit(int pid, int res, uint64_t cur, uint64_t max)'),
    start: l.func('int tscr_rs_start(const char *path, const char *arg1, const char *logpath)'),
  };
  return restoreShim;
}

// ---------------------------------------------------------------------------
// Section: fd kinds: pipes, unix sockets, eventfd, ... (owner: fdkinds — issue 4)
// ---------------------------------------------------------------------------
// Raw prototypes of shim/fds.c (>= 0 or -errno). Safe from any thread (no ptrace).
// Structs travel as raw Buffers: tscr_ep_item is 24 bytes, tscr_unix_diag 160.

export interface FdsShim {
  fcntl(fd: number, cmd: number, arg: number | bigint): number;
  lseek(fd: number, off: number | bigint, whence: number): number | bigint;
  ioctl_int(fd: number, req: number | bigint, out: Int32Array): number;
  ioctl_ptr(fd: number, req: number | bigint, arg: Buffer | Uint8Array): number;
  ftruncate(fd: number, len: number | bigint): number;
  fchmod(fd: number, mode: number): number;
  fchown(fd: number, uid: number, gid: number): number;
  pipe2(out2: Int32Array, flags: number): number;
  pipe_peek(fd: number, buf: Buffer, len: number): number;
  eventfd(init: number, flags: number): number;
  timerfd_create(clock: number, flags: number): number;
  timerfd_settime(fd: number, flags: number, v4: BigInt64Array): number;
  timerfd_gettime(fd: number, out4: BigInt64Array): number;
  signalfd(mask: bigint, flags: number): number;
  epoll_create(flags: number): number;
  epoll_build(epfd: number, items: Buffer, n: number): number;
  inotify_init(flags: number): number;
  inotify_add_wd(ifd: number, path: string, mask: number, wd: number): number;
  open_by_handle(mnt: string, type: number, handle: Buffer, bytes: number, flags: number): number;
  memfd_create(name: string, flags: number): number;
  reopen(fd: number, flags: number): number;
  socket(domain: number, type: number, proto: number): number;
  socketpair(type: number, out2: Int32Array): number;
  bind_un(fd: number, name: Buffer, len: number): number;
  connect_un(fd: number, name: Buffer, len: number): number;
  sk_listen(fd: number, backlog: number): number;
  accept(fd: number, flags: number): number;
  shutdown(fd: number, how: number): number;
  getsockopt(fd: number, level: number, opt: number, buf: Buffer, len: number): number;
  setsockopt(fd: number, level: number, opt: number, buf: Buffer, len: number): number;
  sockname(fd: number, peer: number, out108: Buffer): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number | bigint;
  sendto_un(fd: number, buf: Buffer, len: number, name: Buffer, namelen: number): number | bigint;
  sk_peek(fd: number, stream: number, buf: Buffer, len: number, lens: Int32Array, maxmsgs: number, nmsgs: Int32Array): number | bigint;
  unix_diag(out: Buffer, max: number): number;
  spawn_fds(path: string, argvBlock: Buffer, argc: number, map: Int32Array, n: number): number;
  shmem_copy(inFd: number, size: number, outFd: number, runs: BigUint64Array, max: number): number;
  fd_copy(inFd: number, inOff: number, outFd: number, outOff: number, len: number): number | bigint;
}

let fdsShimObj: FdsShim | null = null;

/** The prototypes of shim/fds.c, bound once (loads koffi). */
export function fdsShim(): FdsShim {
  if (fdsShimObj) return fdsShimObj;
  const { lib: l } = loadShim();
  const f = (proto: string) => l.func(proto);
  fdsShimObj = {
    fcntl: f('int tscr_fcntl(int fd, int cmd, int64_t arg)'),
    lseek: f('int64_t tscr_lseek(int fd, int64_t off, int whence)'),
    ioctl_int: f('int tscr_ioctl_int(int fd, uint64_t req, void *out)'),
    ioctl_ptr: f('int tscr_ioctl_ptr(int fd, uint64_t req, void *arg)'),
    ftruncate: f('int tscr_ftruncate(int fd, int64_t len)'),
    fchmod: f('int tscr_fchmod(int fd, uint32_t mode)'),
    fchown: f('int tscr_fchown(int fd, uint32_t uid, uint32_t gid)'),
    pipe2: f('int tscr_pipe2(void *out2, int flags)'),
    pipe_peek: f('int tscr_pipe_peek(int fd, void *buf, int len)'),
    eventfd: f('int tscr_eventfd(uint32_t init, int flags)'),
    timerfd_create: f('int tscr_timerfd_create(int clock, int flags)'),
    timerfd_settime: f('int tscr_timerfd_settime(int fd, int flags, void *v4)'),
    timerfd_gettime: f('int tscr_timerfd_gettime(int fd, void *out4)'),
    signalfd: f('int tscr_signalfd(uint64_t mask, int flags)'),
    epoll_create: f('int tscr_epoll_create(int flags)'),
    epoll_build: f('int tscr_epoll_build(int epfd, void *items, int n)'),
    inotify_init: f('int tscr_inotify_init(int flags)'),
    inotify_add_wd: f('int tscr_inotify_add_wd(int ifd, const char *path, uint32_t mask, int wd)'),
    open_by_handle: f('int tscr_open_by_handle(const char *mnt, int type, void *handle, int bytes, int flags)'),
    memfd_create: f('int tscr_memfd_create(const char *name, uint32_t flags)'),
    reopen: f('int tscr_reopen(int fd, int flags)'),
    socket: f('int tscr_socket(int domain, int type, int proto)'),
    socketpair: f('int tscr_socketpair(int type, void *out2)'),
    bind_un: f('int tscr_bind_un(int fd, void *name, int len)'),
    connect_un: f('int tscr_connect_un(int fd, void *name, int len)'),
    sk_listen: f('int tscr_sk_listen(int fd, int backlog)'),
    accept: f('int tscr_accept(int fd, int flags)'),
    shutdown: f('int tscr_shutdown(int fd, int how)'),
    getsockopt: f('int tscr_getsockopt(int fd, int level, int opt, void *buf, int len)'),
    setsockopt: f('int tscr_setsockopt(int fd, int level, int opt, void *buf, int len)'),
    sockname: f('int tscr_sockname(int fd, int peer, void *out)'),
    send: f('int64_t tscr_send(int fd, void *buf, int64_t len, int flags)'),
    sendto_un: f('int64_t tscr_sendto_un(int fd, void *buf, int64_t len, void *name, int namelen)'),
    sk_peek: f('int64_t tscr_sk_peek(int fd, int stream, void *buf, int64_t len, void *lens, int maxmsgs, void *nmsgs)'),
    unix_diag: f('int tscr_unix_diag(void *out, int max)'),
    spawn_fds: f('int tscr_spawn_fds(const char *path, void *argv_block, int argc, void *map, int n)'),
    shmem_copy: f('int tscr_shmem_copy(int in, int64_t size, int out, void *runs, int max)'),
    fd_copy: f('int64_t tscr_fd_copy(int in, int64_t in_off, int out, int64_t out_off, int64_t len)'),
  };
  return fdsShimObj;
}


// ---------------------------------------------------------------------------
// Section: TCP repair and network lock (owner: tcp — issue 5)
// ---------------------------------------------------------------------------
// Raw prototypes of shim/tcp.c (>= 0 or -errno) and checked wrappers. Plain
// socket syscalls: callable from any thread (no ptrace involved).

export const TCP_STATE_FIELDS = ['state', 'inq_len', 'inq_seq', 'outq_len', 'outq_seq', 'unsq_len', 'opt_mask', 'snd_wscale',
  'rcv_wscale', 'mss_clamp', 'timestamp', 'has_window', 'snd_wl1', 'snd_wnd', 'max_window', 'rcv_wnd', 'rcv_wup'] as const;
export type TcpState = Record<(typeof TCP_STATE_FIELDS)[number], number>;
export interface SockName { family: number; port: number; scope: number; addr: Buffer }
export const TCP_QUEUE = { NONE: 0, RECV: 1, SEND: 2 } as const;
export const TCP_RESTORE_STEPS = ['done', 'bind to the source address', 'set the receive sequence', 'set the send sequence',
  'connect to the peer address (in repair mode)', 'set TCP options (mss, wscale, sack, timestamps)', 'set the timestamp',
  'refill the receive queue', 'refill the send queue', 'set the window', 'queue the unsent data'];

export interface TcpShim {
  tcp_repair(fd: number, mode: number): number;
  tcp_save(fd: number, st72: Buffer): number;
  tcp_peek_queue(fd: number, queue: number, buf: Buffer, len: number): number;
  tcp_restore(fd: number, st72: Buffer, addrs52: Buffer, inq: Buffer, outq: Buffer, step4: Int32Array): number;
  socket(family: number, type: number, proto: number): number;
  sock_bind(fd: number, family: number, addr16: Buffer, port: number, scope: number): number;
  sock_connect(fd: number, family: number, addr16: Buffer, port: number, scope: number): number;
  sock_listen(fd: number, backlog: number): number;
  sock_accept(fd: number): number;
  sock_name(fd: number, peer: number, out28: Buffer): number;
  getsockopt(fd: number, level: number, opt: number, buf: Buffer, len: number): number;
  setsockopt(fd: number, level: number, opt: number, buf: Buffer, len: number): number;
  shutdown(fd: number, how: number): number;
  inet_diag(family: number, proto: number, ino: number, out16: Buffer): number;
  fd_dup(fd: number): number;
  fd_close(fd: number): number;
  net_setns(nsfd: number): number;
  fd_setfl(fd: number, flags: number): number;
  tcp_inject(family: number, src16: Buffer, sport: number, dst16: Buffer, dport: number, seq: number, ack: number, flags: number, win: number, mark: number): number;
}
let tcpShim: TcpShim | null = null;

/** The prototypes of shim/tcp.c, bound once (loads koffi). */
export function tcpShimRaw(): TcpShim {
  if (tcpShim) return tcpShim;
  const { lib: l } = loadShim();
  const f = (proto: string) => l.func(proto);
  tcpShim = {
    tcp_repair: f('int tscr_tcp_repair(int fd, int mode)'),
    tcp_save: f('int tscr_tcp_save(int fd, void *st)'),
    tcp_peek_queue: f('int tscr_tcp_peek_queue(int fd, int queue, void *buf, int len)'),
    tcp_restore: f('int tscr_tcp_restore(int fd, void *st, void *a, void *inq, void *outq, void *step)'),
    socket: f('int tscr_socket(int family, int type, int proto)'),
    sock_bind: f('int tscr_sock_bind(int fd, int family, void *addr16, int port, uint32_t scope)'),
    sock_connect: f('int tscr_sock_connect(int fd, int family, void *addr16, int port, uint32_t scope)'),
    sock_listen: f('int tscr_sock_listen(int fd, int backlog)'),
    sock_accept: f('int tscr_sock_accept(int fd)'),
    sock_name: f('int tscr_sock_name(int fd, int peer, void *out)'),
    getsockopt: f('int tscr_getsockopt(int fd, int level, int opt, void *buf, int len)'),
    setsockopt: f('int tscr_setsockopt(int fd, int level, int opt, void *buf, int len)'),
    shutdown: f('int tscr_shutdown(int fd, int how)'),
    inet_diag: f('int tscr_inet_diag(int family, int proto, uint32_t ino, void *out)'),
    fd_dup: f('int tscr_fd_dup(int fd)'),
    fd_close: f('int tscr_close(int fd)'),   // shim/ptrace.c
    net_setns: f('int tscr_net_setns(int nsfd)'),
    fd_setfl: f('int tscr_fd_setfl(int fd, int flags)'),
    tcp_inject: f('int tscr_tcp_inject(int family, void *src16, int sport, void *dst16, int dport, uint32_t seq, uint32_t ack, int flags, int win, uint32_t mark)'),
  };
  return tcpShim;
}

/** Run fn with this thread in another network namespace (e.g. '/run/netns/NAME'), then come back. */
export function inNetns<T>(nsPath: string, fn: () => T): T {
  const { openSync, closeSync } = require_fs();
  const here = openSync('/proc/thread-self/ns/net', 'r');
  const there = openSync(nsPath, 'r');
  try {
    check(tcpShimRaw().net_setns(there), `entering network namespace ${nsPath}`);
    try { return fn(); } finally { check(tcpShimRaw().net_setns(here), 'returning to the original network namespace'); }
  } finally { closeSync(here); closeSync(there); }
}
function require_fs(): typeof import('node:fs') { return createRequire(import.meta.url)('node:fs'); }

export function tcpStateFromBuffer(b: Buffer): TcpState {
  const o: any = {};
  TCP_STATE_FIELDS.forEach((k, i) => { o[k] = b.readUInt32LE(i * 4); });
  return o;
}
export function tcpStateToBuffer(s: Partial<TcpState>): Buffer {
  const b = Buffer.alloc(TCP_STATE_FIELDS.length * 4);
  TCP_STATE_FIELDS.forEach((k, i) => { b.writeUInt32LE((s[k] ?? 0) >>> 0, i * 4); });
  return b;
}
export function sockName(fd: number, peer: boolean, where: ErrorWhere = {}): SockName {
  const b = Buffer.alloc(28);
  check(tcpShimRaw().sock_name(fd, peer ? 1 : 0, b), peer ? 'getpeername' : 'getsockname', where);
  return { family: b.readInt32LE(0), port: b.readInt32LE(4), scope: b.readUInt32LE(8), addr: Buffer.from(b.subarray(12, 28)) };
}
/** getsockopt of an int option (returns the int). */
export function getSockInt(fd: number, level: number, opt: number, what: string, where: ErrorWhere = {}): number {
  const b = Buffer.alloc(4);
  check(tcpShimRaw().getsockopt(fd, level, opt, b, 4), `getsockopt ${what}`, where);
  return b.readInt32LE(0);
}
export function setSockInt(fd: number, level: number, opt: number, v: number, what: string, where: ErrorWhere = {}): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v | 0, 0);
  check(tcpShimRaw().setsockopt(fd, level, opt, b, 4), `setsockopt ${what}`, where);
}

// ---------------------------------------------------------------------------
// Section: memory write tracking (owner: uffd — issue 7; shim/uffd.c)
// ---------------------------------------------------------------------------
// ioctls on a userfaultfd copied out of the target (pidfd_getfd) and PAGEMAP_SCAN
// with flags. Raw: >= 0 or -errno. Safe from any thread (no ptrace).

export const UFFD_FEATURE = { WP_HUGETLBFS_SHMEM: 1 << 12, WP_UNPOPULATED: 1 << 13, WP_ASYNC: 1 << 15 } as const;
export const PM_SCAN = { WP_MATCHING: 1, CHECK_WPASYNC: 2 } as const;
export const PAGE_IS = { WPALLOWED: 1, WRITTEN: 2, FILE: 4, PRESENT: 8, SWAPPED: 16, PFNZERO: 32, HUGE: 64 } as const;

export interface UffdShim {
  api(fd: number, features: number | bigint, got8: BigUint64Array): number;
  register_wp(fd: number, start: bigint | number, len: bigint | number): number;
  unregister(fd: number, start: bigint | number, len: bigint | number): number;
  writeprotect(fd: number, start: bigint | number, len: bigint | number, on: number): number;
  pm_scan(fd: number, start: bigint | number, end: bigint | number, flags: number, mask: number, anyof: number, retmask: number, out: BigUint64Array, max: number, walkEnd: BigUint64Array): number;
  probe(features: number | bigint): number | bigint;
}
let uffdShim: UffdShim | null = null;
export function uffdShimRaw(): UffdShim {
  if (uffdShim) return uffdShim;
  const { lib: l } = loadShim();
  uffdShim = {
    api: l.func('int tscr_uffd_api(int fd, uint64_t features, void *got)'),
    register_wp: l.func('int tscr_uffd_register_wp(int fd, uint64_t start, uint64_t len)'),
    unregister: l.func('int tscr_uffd_unregister(int fd, uint64_t start, uint64_t len)'),
    writeprotect: l.func('int tscr_uffd_writeprotect(int fd, uint64_t start, uint64_t len, int on)'),
    probe: l.func('int64_t tscr_uffd_probe(uint64_t features)'),
    pm_scan: l.func('int tscr_pm_scan(int fd, uint64_t start, uint64_t end, uint64_t flags, uint64_t mask, uint64_t anyof, uint64_t retmask, void *out, int max, void *walk_end)'),
  };
  return uffdShim;
}
