// timerfd: files.img TIMERFD {id, flags, fown, clockid, ticks, settime_flags,
// vsec, vnsec (time left), isec, insec (interval)} from fdinfo. Restore arms a
// new timer with the time that was left (relative) and puts the expirations
// not yet read back with TFD_IOC_SET_TICKS.
import type { FdKind } from './types.ts';
import { O, FOWN, hex, num, big, fds, ck, fileFlags, setFl, cachedOfd, parseTimespec, parseFlags } from './fdutil.ts';

const TFD_IOC_SET_TICKS = 0x40085400;
const TFD_TIMER_ABSTIME = 1;

export const timerfd: FdKind = {
  kind: 'timerfd',
  types: ['TIMERFD'],
  match(ctx) { return ctx.link === 'anon_inode:[timerfd]'; },
  dump(ctx) {
    const { id, isNew } = ctx.fileId('timerfd');
    if (!isNew) return null;
    const f = ctx.info.fields;
    const [vsec, vnsec] = parseTimespec(f['it_value']);
    const [isec, insec] = parseTimespec(f['it_interval']);
    return {
      type: 'TIMERFD', id,
      tfd: {
        id, flags: hex(fileFlags(ctx)), fown: FOWN(), clockid: Number(f['clockid'] ?? 0), ticks: Number(f['ticks'] ?? 0),
        settime_flags: hex(parseInt(f['settime flags'] ?? '0', 8)), vsec: Number(vsec), vnsec: Number(vnsec), isec: Number(isec), insec: Number(insec),
      },
    };
  },
  async restore(ctx, file) {
    const t = file.tfd;
    const flags = parseFlags(t.flags);
    return cachedOfd(ctx, `timerfd:${num(file.id)}`, () => {
      const fd = ck(fds().timerfd_create(num(t.clockid), O.CLOEXEC), `timerfd_create(clock ${num(t.clockid)})`, { pid: ctx.pid, fd: ctx.fd });
      let vs = big(t.vsec), vn = big(t.vnsec);
      const is = big(t.isec), inn = big(t.insec);
      if (vs === 0n && vn === 0n && (is !== 0n || inn !== 0n)) vn = 1n; // armed periodic timer at the very edge
      if (vs !== 0n || vn !== 0n) {
        const v = new BigInt64Array([vs, vn, is, inn]);
        ck(fds().timerfd_settime(fd, num(t.settime_flags) & ~TFD_TIMER_ABSTIME, v), 'timerfd_settime', { pid: ctx.pid, fd: ctx.fd });
      }
      const ticks = big(t.ticks);
      if (ticks > 0n) {
        const b = Buffer.alloc(8); b.writeBigUInt64LE(ticks);
        ck(fds().ioctl_ptr(fd, TFD_IOC_SET_TICKS, b), 'ioctl(TFD_IOC_SET_TICKS)', { pid: ctx.pid, fd: ctx.fd });
      }
      setFl(fd, flags);
      return fd;
    });
  },
};
export default timerfd;
