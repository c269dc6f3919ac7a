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

// ---------------------------------------------------------------------------
// Section: fd kinds: pipes, unix sockets, eventfd, ... (owner: fdkinds — issue 4)
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Section: TCP repair and network lock (owner: tcp — issue 5)
// ---------------------------------------------------------------------------
