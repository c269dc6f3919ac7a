// eventfd: files.img EVENTFD {id, flags, fown, counter}. The counter comes from
// fdinfo ("eventfd-count", hex). EFD_SEMAPHORE is not part of the file flags;
// tscr keeps it as bit 0x1 of flags (O_WRONLY, which an eventfd never has).
import { writeSync } from 'node:fs';
import type { FdKind } from './types.ts';
import { O, FOWN, num, big, fds, ck, fileFlags, setFl, cachedOfd } from './fdutil.ts';

const EFD_SEMAPHORE = 1;

export const eventfd: FdKind = {
  kind: 'eventfd',
  types: ['EVENTFD'],
  match(ctx) { return ctx.link === 'anon_inode:[eventfd]'; },
  dump(ctx) {
    const { id, isNew } = ctx.fileId(`eventfd:${ctx.info.fields['eventfd-id'] ?? ''}`);
    if (!isNew) return null;
    const counter = BigInt('0x' + (ctx.info.fields['eventfd-count'] ?? '0').trim());
    let flags = fileFlags(ctx);
    if ((ctx.info.fields['eventfd-semaphore'] ?? '0').trim() === '1') flags |= EFD_SEMAPHORE;
    return { type: 'EVENTFD', id, efd: { id, flags, fown: FOWN(), counter: counter <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(counter) : counter } };
  },
  async restore(ctx, file) {
    const e = file.efd;
    const flags = num(e.flags);
    return cachedOfd(ctx, `eventfd:${num(file.id)}`, () => {
      const fd = ck(fds().eventfd(0, O.CLOEXEC | (flags & EFD_SEMAPHORE)), 'eventfd', { pid: ctx.pid, fd: ctx.fd });
      const c = big(e.counter);
      if (c > 0n) { const b = Buffer.alloc(8); b.writeBigUInt64LE(c); writeSync(fd, b); }
      setFl(fd, flags & ~EFD_SEMAPHORE);
      return fd;
    });
  },
};
export default eventfd;
