// epoll: files.img EVENTPOLL {id, flags, fown, tfd: [{id, tfd, events, data,
// dev, inode, pos}]} from the "tfd:" lines of fdinfo. Restore creates the epoll
// and registers each watched file under the fd number the target used (the
// kernel keys watches by file and number), taking the file from the engine
// (ctx.localFd: the same open file description the target gets at that number).
import type { FdKind } from './types.ts';
import { TscrError } from '../errors.ts';
import { O, FOWN, num, big, fds, ck, fileFlags, setFl, cachedOfd, closeFd } from './fdutil.ts';

export const epoll: FdKind = {
  kind: 'epoll',
  types: ['EVENTPOLL'],
  match(ctx) { return ctx.link === 'anon_inode:[eventpoll]'; },
  dump(ctx) {
    const { id, isNew } = ctx.fileId('epoll');
    if (!isNew) return null;
    const tfd: any[] = [];
    for (const line of ctx.info.lines) {
      const m = /^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s+data:\s*([0-9a-f]+)\s+pos:\s*(\d+)\s+ino:\s*([0-9a-f]+)\s+sdev:\s*([0-9a-f]+)/.exec(line);
      if (!m) continue;
      const data = BigInt('0x' + m[3]);
      tfd.push({
        id: 0, tfd: Number(m[1]), events: parseInt(m[2], 16), data: data <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(data) : data,
        dev: parseInt(m[6], 16), inode: parseInt(m[5], 16), pos: Number(m[4]),
      });
    }
    return { type: 'EVENTPOLL', id, epfd: { id, flags: fileFlags(ctx), fown: FOWN(), tfd } };
  },
  async restore(ctx, file) {
    const e = file.epfd;
    const flags = num(e.flags);
    return cachedOfd(ctx, `epoll:${num(file.id)}`, async () => {
      const ep = ck(fds().epoll_create(O.CLOEXEC), 'epoll_create1', { pid: ctx.pid, fd: ctx.fd });
      const tfds: any[] = e.tfd ?? [];
      if (tfds.length) {
        if (!ctx.localFd) throw new TscrError('E_INTERNAL', 'the restore engine gives epoll no access to the watched files (RestoreFdCtx.localFd)', { pid: ctx.pid, fd: ctx.fd });
        const items = Buffer.alloc(24 * tfds.length);
        const locals: number[] = [];
        try {
          for (let i = 0; i < tfds.length; i++) {
            const t = tfds[i];
            const local = await ctx.localFd(num(t.tfd));
            locals.push(local);
            items.writeInt32LE(local, i * 24);
            items.writeInt32LE(num(t.tfd), i * 24 + 4);
            items.writeUInt32LE(num(t.events) >>> 0, i * 24 + 8);
            items.writeBigUInt64LE(BigInt.asUintN(64, big(t.data)), i * 24 + 16);
          }
          ck(fds().epoll_build(ep, items, tfds.length), `registering ${tfds.length} epoll watches`, { pid: ctx.pid, fd: ctx.fd });
        } finally {
          for (const l of locals) closeFd(l);
        }
      }
      setFl(ep, flags);
      return ep;
    });
  },
};
export default epoll;
