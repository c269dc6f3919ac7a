// The fd kinds of issue 4, in the order the classifier must try them (all
// before regfile: a memfd looks like a regular file, a FIFO has a path).
// lib/kinds/index.ts spreads this list into its table: [...fdKinds, regfile].
import type { FdKind } from './types.ts';
import pipe from './pipe.ts';
import unix from './unix.ts';
import eventfd from './eventfd.ts';
import epoll from './epoll.ts';
import timerfd from './timerfd.ts';
import signalfd from './signalfd.ts';
import inotify from './inotify.ts';
import memfd from './memfd.ts';
import { unsupported, fds } from './fdutil.ts';

/**
 * Every other anonymous-inode file (pidfd, userfaultfd, io_uring, fanotify,
 * perf_event, bpf maps, ...): an explicit "unsupported" naming the kind, fd
 * and pid. The dump fails before anything changed in the target.
 */
export const anonUnsupported: FdKind = {
  kind: 'anonymous inode',
  types: [],
  match(ctx) { return ctx.link.startsWith('anon_inode:'); },
  dump(ctx) {
    const what = ctx.link.replace(/^anon_inode:\[?/, '').replace(/\]$/, '');
    throw unsupported(what, ctx);
  },
  restore() { throw new Error('unreachable'); },
};

const FAMILIES: Record<number, string> = { 16: 'netlink', 17: 'packet', 4: 'ipx', 5: 'appletalk', 9: 'x25', 15: 'key', 29: 'can', 30: 'tipc', 31: 'bluetooth', 38: 'alg', 40: 'vsock', 44: 'xdp' };
/** Sockets of families no module handles (netlink, packet, vsock, ...): "unsupported: netlink socket fd N of pid P". */
export const otherSockets: FdKind = {
  kind: 'socket',
  types: [],
  match(ctx) {
    if (!ctx.link.startsWith('socket:[')) return false;
    const b = Buffer.alloc(4);
    if (fds().getsockopt(ctx.localFd, 1 /* SOL_SOCKET */, 39 /* SO_DOMAIN */, b, 4) < 0) return false;
    const fam = b.readInt32LE(0);
    return fam !== 1 && fam !== 2 && fam !== 10;
  },
  dump(ctx) {
    const b = Buffer.alloc(4);
    fds().getsockopt(ctx.localFd, 1, 39, b, 4);
    const fam = b.readInt32LE(0);
    throw unsupported(`${FAMILIES[fam] ?? `family ${fam}`} socket`, ctx);
  },
  restore() { throw new Error('unreachable'); },
};

export const fdKinds: FdKind[] = [pipe, unix, eventfd, epoll, timerfd, signalfd, inotify, memfd, anonUnsupported, otherSockets];
export { pipe, unix, eventfd, epoll, timerfd, signalfd, inotify, memfd };
