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

// ---------------------------------------------------------------------------
// Section: TCP repair and network lock (owner: tcp — issue 5)
// ---------------------------------------------------------------------------
