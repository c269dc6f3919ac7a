// The one table of fd kinds, tried in order, and the classifier. Each kernel
// object kind is one module (lib/kinds/<kind>.ts); add yours to `kinds` (more
// specific matchers before regfile). An fd no module matches fails the dump
// with "unsupported: <what> fd N of pid P".
import type { FdKind, DumpFdCtx } from './types.ts';
import { TscrError } from '../errors.ts';
import regfile from './regfile.ts';
import { isTtyDevice } from './fdutil.ts';
import { inetKind } from './inet.ts';
import { fdKinds } from './fdkinds.ts';

export const kinds: FdKind[] = [
  inetKind,     // TCP and UDP sockets, IPv4 and IPv6 (issue 5)
  ...fdKinds,   // pipes, unix sockets, eventfd, epoll, timerfd, signalfd, inotify, memfd (issue 4)
  regfile,
];

/** Plain-words name of what an fd is, from its /proc link, mode and device. */
export function describeFd(link: string, mode: number, rdev = 0n): string {
  let m: RegExpExecArray | null;
  if ((m = /^anon_inode:\[?([^\]]+)\]?$/.exec(link))) return m[1];       // inotify, eventfd, eventpoll, timerfd, signalfd, pidfd, userfaultfd...
  if ((m = /^(pipe|socket|net|mnt|pid|user|uts|ipc|cgroup|time):\[/.exec(link))) return m[1] === 'socket' ? 'socket' : m[1];
  if (link.startsWith('/memfd:')) return 'memfd';
  if (isTtyDevice(link, mode, rdev)) return 'tty';
  const t = mode & 0o170000;
  if (t === 0o010000) return 'fifo';
  if (t === 0o140000) return 'socket';
  if (t === 0o060000) return 'block device';
  if (t === 0o020000) return 'character device';
  if (t === 0o040000) return 'directory';
  if (t === 0o100000) return 'regular file';
  return 'unknown file';
}

/** The module that dumps this fd, or an E_UNSUPPORTED error naming it. */
export function classify(ctx: DumpFdCtx): FdKind {
  for (const k of kinds) if (k.match(ctx)) return k;
  const what = describeFd(ctx.link, ctx.stat.mode, ctx.stat.rdev);
  throw new TscrError('E_UNSUPPORTED', `unsupported: ${what} fd ${ctx.fd} of pid ${ctx.pid} (${ctx.link})`, {
    pid: ctx.pid, fd: ctx.fd,
    hint: what === 'tty'
      ? 'the program uses a terminal: pass --shell-job (as with CRIU) to keep its terminal by path. The process was left running as it was.'
      : 'tscr cannot checkpoint this kind of file yet; close it in the program, or dump a process without it. The process was left running as it was.',
  });
}

/** Restore-side lookup: the module for a files.img entry type. */
export function kindForType(type: string): FdKind | undefined {
  return kinds.find((k) => k.types.includes(type));
}
