// signalfd: files.img SIGNALFD {id, flags, fown, sigmask} (mask from fdinfo).
// A signalfd reads the signals of whichever process reads it, so it can be
// created in tscr and moved into the target.
import type { FdKind } from './types.ts';
import { O, FOWN, hex, num, big, fds, ck, fileFlags, setFl, cachedOfd, parseFlags } from './fdutil.ts';

export const signalfd: FdKind = {
  kind: 'signalfd',
  types: ['SIGNALFD'],
  match(ctx) { return ctx.link === 'anon_inode:[signalfd]'; },
  dump(ctx) {
    const { id, isNew } = ctx.fileId('signalfd');
    if (!isNew) return null;
    const mask = BigInt('0x' + (ctx.info.fields['sigmask'] ?? '0').trim());
    return { type: 'SIGNALFD', id, sgfd: { id, flags: hex(fileFlags(ctx)), fown: FOWN(), sigmask: hex(mask) } };
  },
  async restore(ctx, file) {
    const s = file.sgfd;
    const flags = parseFlags(s.flags);
    return cachedOfd(ctx, `signalfd:${num(file.id)}`, () => {
      const fd = ck(fds().signalfd(big(s.sigmask), O.CLOEXEC), 'signalfd', { pid: ctx.pid, fd: ctx.fd });
      setFl(fd, flags);
      return fd;
    });
  },
};
export default signalfd;
