// Helpers shared by the fd kind modules of issue 4 (pipe, unix, eventfd, ...):
// crit-shaped field encodings, per-restore caches of open file descriptions,
// and checked calls into shim/fds.c.
import type { DumpFdCtx, RestoreFdCtx } from './types.ts';
import { TscrError } from '../errors.ts';
import { fdsShim, check, ptraceShimRaw } from '../../shim/native.ts';

export const O = {
  ACCMODE: 3, RDONLY: 0, WRONLY: 1, RDWR: 2, APPEND: 0o2000, NONBLOCK: 0o4000, ASYNC: 0o20000, DIRECT: 0o40000,
  LARGEFILE: 0o100000, NOATIME: 0o1000000, CLOEXEC: 0o2000000, PATH: 0o10000000,
} as const;
export const F = { GETFL: 3, SETFL: 4, DUPFD_CLOEXEC: 1030, SETPIPE_SZ: 1031, GETPIPE_SZ: 1032, ADD_SEALS: 1033, GET_SEALS: 1034 } as const;
export const FIONREAD = 0x541b;
export const S_IFMT = 0o170000, S_IFIFO = 0o010000, S_IFSOCK = 0o140000, S_IFREG = 0o100000;

// shim/native.ts loads koffi only when a function is first called, so importing
// it here costs offline commands nothing.
/** The fd-kind prototypes of shim/fds.c (loads koffi on first use). */
export function fds() { return fdsShim(); }
export function ck(rc: number | bigint, what: string, where: { pid?: number; fd?: number; kind?: string } = {}): number {
  return check(rc, what, where);
}

export const FOWN = () => ({ uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 });
export const hex = (n: number | bigint) => '0x' + BigInt(n).toString(16);
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    if (v === '') return 0;
    if (/^0x/i.test(v)) return parseInt(v, 16);
    if (/^-?\d+$/.test(v)) return Number(v);
    // flags strings "O_WRONLY | O_LARGEFILE" are handled by the caller
  }
  return Number(v ?? 0);
}
export function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string' && v !== '') return BigInt(v);
  return 0n;
}

/** base64 as crit prints bytes (Python's encodebytes: 76-char lines, each ending in \n). */
export function critB64(b: Buffer): string {
  const s = b.toString('base64');
  let out = '';
  for (let i = 0; i < s.length; i += 76) out += s.slice(i, i + 76) + '\n';
  return out;
}
export const fromB64 = (s: string | undefined) => Buffer.from((s ?? '').replace(/\s+/g, ''), 'base64');

/** Quoted-printable, as crit shows unix socket names (Python quopri, quotetabs off). */
export function quopriEncode(b: Buffer): string {
  let out = '', line = '';
  const flush = (soft: boolean) => { out += line + (soft ? '=\n' : ''); line = ''; };
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    let t: string;
    if (c === 0x0a) { flush(false); out += '\n'; continue; }
    if ((c >= 33 && c <= 126 && c !== 61) || ((c === 32 || c === 9) && i + 1 < b.length && b[i + 1] !== 0x0a)) t = String.fromCharCode(c);
    else t = '=' + c.toString(16).toUpperCase().padStart(2, '0');
    if (line.length + t.length > 75) flush(true);
    line += t;
  }
  out += line;
  return out;
}
export function quopriDecode(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '=') {
      if (s[i + 1] === '\n') { i += 1; continue; }
      if (s[i + 1] === '\r' && s[i + 2] === '\n') { i += 2; continue; }
      const h = s.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(h)) { out.push(parseInt(h, 16)); i += 2; continue; }
      out.push(61);
    } else out.push(...Buffer.from(ch, 'latin1'));
  }
  return Buffer.from(out);
}

const RFILE_FLAGS: [string, number][] = [
  ['O_WRONLY', 0o1], ['O_RDWR', 0o2], ['O_CREAT', 0o100], ['O_EXCL', 0o200], ['O_NOCTTY', 0o400], ['O_TRUNC', 0o1000],
  ['O_APPEND', 0o2000], ['O_NONBLOCK', 0o4000], ['O_DSYNC', 0o10000], ['FASYNC', 0o20000], ['O_DIRECT', 0o40000],
  ['O_LARGEFILE', 0o100000], ['O_DIRECTORY', 0o200000], ['O_NOFOLLOW', 0o400000], ['O_NOATIME', 0o1000000], ['O_CLOEXEC', 0o2000000],
];
export function rfileFlagsStr(v: number): string {
  return RFILE_FLAGS.filter(([, b]) => (v & b) === b).map(([n]) => n).join(' | ');
}
/** Parse a crit flags value: number, '0x..' or 'A | B | 0x..' with the given names. */
export function parseFlags(v: unknown, names: [string, number][] = RFILE_FLAGS): number {
  if (typeof v !== 'string') return num(v);
  if (v.trim() === '') return 0;
  let n = 0;
  for (const part of v.split('|').map((x) => x.trim())) {
    const f = names.find(([k]) => k === part);
    if (f) n |= f[1];
    else if (/^(0x[0-9a-f]+|\d+)$/i.test(part)) n |= Number(part);
    else throw new TscrError('E_BAD_JSON', `unknown flag "${part}" in "${v}"`);
  }
  return n >>> 0;
}
export const SEALS: [string, number][] = [
  ['F_SEAL_SEAL', 1], ['F_SEAL_SHRINK', 2], ['F_SEAL_GROW', 4], ['F_SEAL_WRITE', 8], ['F_SEAL_FUTURE_WRITE', 0x10],
];
export function sealsStr(v: number): string {
  const bs = SEALS.filter(([, b]) => v & b).map(([n]) => n);
  const rest = v & ~SEALS.reduce((a, [, b]) => a | b, 0);
  if (rest) bs.push(hex(rest));
  return bs.join(' | ');
}

/** File status flags of an fd as stored in images: no O_CLOEXEC (that is fdinfo's FD_CLOEXEC). */
export const fileFlags = (ctx: DumpFdCtx) => ctx.info.flags & ~O.CLOEXEC;

/** Set the changeable status flags (O_NONBLOCK, O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME) of a local fd. */
export function setFl(fd: number, flags: number): void {
  const want = flags & (O.NONBLOCK | O.APPEND | O.ASYNC | O.DIRECT | O.NOATIME);
  const cur = ck(fds().fcntl(fd, F.GETFL, 0), 'fcntl(F_GETFL)');
  const next = (cur & ~(O.NONBLOCK | O.APPEND | O.ASYNC | O.DIRECT | O.NOATIME)) | want;
  if (next !== cur) ck(fds().fcntl(fd, F.SETFL, next), 'fcntl(F_SETFL)');
}
export function dupFd(fd: number): number { return ck(fds().fcntl(fd, F.DUPFD_CLOEXEC, 3), 'fcntl(F_DUPFD_CLOEXEC)'); }
export function closeFd(fd: number): void { ptraceShimRaw().close(fd); }

/** Per-dump cache: ctx.shared when the engine gives one, else a per-ctx fallback. */
const fallbackShared = new WeakMap<object, Map<string, unknown>>();
export function dumpShared(ctx: DumpFdCtx): Map<string, unknown> {
  if (ctx.shared) return ctx.shared;
  let m = fallbackShared.get(ctx.fileId);
  if (!m) { m = new Map(); fallbackShared.set(ctx.fileId, m); }
  return m;
}

/**
 * One local fd per key (an open file description), created once per restore and
 * kept until the restore ends (ctx.defer); each call returns a fresh dup.
 */
export async function cachedOfd(ctx: RestoreFdCtx, key: string, create: () => number | Promise<number>): Promise<number> {
  let fd = ctx.shared.get(key) as number | undefined;
  if (fd === undefined) {
    fd = await create();
    ctx.shared.set(key, fd);
    const keep = fd;
    ctx.defer?.(() => closeFd(keep));
  }
  return dupFd(fd);
}

/** cachedOfd for callers that cannot wait (the engine's memory step); create must be synchronous. */
export function cachedOfdSync(ctx: RestoreFdCtx, key: string, create: () => number): number {
  let fd = ctx.shared.get(key) as number | undefined;
  if (fd === undefined) {
    fd = create();
    ctx.shared.set(key, fd);
    const keep = fd;
    ctx.defer?.(() => closeFd(keep));
  }
  return dupFd(fd);
}

/** Every files.img entry of the checkpoint (FILES image, or per-kind legacy images). */
export function filesEntries(ctx: RestoreFdCtx): any[] {
  return ctx.image('FILES') ?? [];
}

export function unsupported(what: string, ctx: { pid: number; fd: number }, hint?: string): TscrError {
  return new TscrError('E_UNSUPPORTED', `unsupported: ${what} fd ${ctx.fd} of pid ${ctx.pid}`, {
    pid: ctx.pid, fd: ctx.fd,
    hint: hint ?? 'tscr cannot checkpoint this kind of file yet; close it in the program, or dump a process without it. The process was left running as it was.',
  });
}

/** Parse "(sec, nsec)" from timerfd fdinfo. */
export function parseTimespec(s: string | undefined): [bigint, bigint] {
  const m = /\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)/.exec(s ?? '');
  return m ? [BigInt(m[1]), BigInt(m[2])] : [0n, 0n];
}

/**
 * A terminal, by path or by device number: majors 4 (tty N), 5 (tty, console,
 * ptmx) and 136-143 (Unix98 pty slaves). The major matters where the /proc link
 * does not read /dev/... (a devpts mounted outside the reader's root).
 */
export function isTtyDevice(link: string, mode: number, rdev: bigint): boolean {
  if ((mode & 0o170000) !== 0o020000) return false;
  if (/^\/dev\/(pts\/|tty|ptmx|console)/.test(link)) return true;
  const major = Number((rdev >> 8n) & 0xfffn);
  return major === 4 || major === 5 || (major >= 136 && major <= 143);
}
