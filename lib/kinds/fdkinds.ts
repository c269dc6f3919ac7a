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
import { unsupported } from './fdutil.ts';

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

export const fdKinds: FdKind[] = [pipe, unix, eventfd, epoll, timerfd, signalfd, inotify, memfd, anonUnsupported];
export { pipe, unix, eventfd, epoll, timerfd, signalfd, inotify, memfd };
