// inotify: files.img INOTIFY {id, flags, fown, wd: [{id, i_ino, mask,
// ignored_mask, s_dev, wd, f_handle {bytes, type, handle[16], path}}]} from the
// "inotify wd:" lines of fdinfo. Restore opens each watched inode by its file
// handle (or by the path tscr noted at dump), and re-adds the watch until the
// kernel hands out the same watch descriptor.
import { readFileSync, readlinkSync } from 'node:fs';
import type { FdKind } from './types.ts';
import { TscrError } from '../errors.ts';
import { O, FOWN, hex, num, big, fds, ck, fileFlags, setFl, cachedOfd, closeFd, parseFlags } from './fdutil.ts';

const MINORBITS = 20;
const devStr = (kdev: number) => `${Math.floor(kdev / (1 << MINORBITS))}:${kdev & ((1 << MINORBITS) - 1)}`;
function devNum(v: unknown): number {
  if (typeof v === 'string' && v.includes(':')) { const [a, b] = v.split(':').map(Number); return a * (1 << MINORBITS) + b; }
  return num(v);
}

/** Mount points of tscr's mount namespace for a device "maj:min" (longest first is not needed: any works for handles). */
function mountsFor(dev: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] === dev) out.push(f[4]);
  }
  return out;
}

function openHandle(dev: string, type: number, handle: Buffer, bytes: number): number {
  for (const mnt of mountsFor(dev)) {
    const fd = fds().open_by_handle(mnt, type, handle, bytes, O.PATH);
    if (fd >= 0) return fd;
  }
  return -1;
}

export const inotify: FdKind = {
  kind: 'inotify',
  types: ['INOTIFY'],
  match(ctx) { return ctx.link === 'anon_inode:inotify' || ctx.link === 'anon_inode:[inotify]'; },
  dump(ctx) {
    const { id, isNew } = ctx.fileId('inotify');
    if (!isNew) return null;
    const wd: any[] = [];
    for (const line of ctx.info.lines) {
      if (!line.startsWith('inotify ')) continue;
      const kv: Record<string, string> = {};
      for (const m of line.slice(8).matchAll(/([\w-]+):(\S+)/g)) kv[m[1]] = m[2];
      const bytes = parseInt(kv['fhandle-bytes'] ?? '0', 16);
      const type = parseInt(kv['fhandle-type'] ?? '0', 16);
      const hb = Buffer.from(kv['f_handle'] ?? '', 'hex');
      const words: number[] = [];
      const padded = Buffer.alloc(Math.max(128, Math.ceil(hb.length / 8) * 8));
      hb.copy(padded);
      for (let i = 0; i < 16; i++) { const w = padded.readBigUInt64LE(i * 8); words.push(w <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(w) : (w as any)); }
      const sdev = parseInt(kv['sdev'] ?? '0', 16);
      let path: string | undefined;
      const pfd = openHandle(devStr(sdev), type, hb, bytes);
      if (pfd >= 0) { try { path = readlinkSync(`/proc/self/fd/${pfd}`); } catch { /* none */ } closeFd(pfd); }
      const fh: any = { bytes, type, handle: words };
      if (path && path.startsWith('/')) fh.path = path;
      wd.push({
        id, i_ino: parseInt(kv['ino'] ?? '0', 16), mask: hex(parseInt(kv['mask'] ?? '0', 16)), ignored_mask: hex(parseInt(kv['ignored_mask'] ?? '0', 16)),
        s_dev: devStr(sdev), wd: parseInt(kv['wd'] ?? '0', 10), f_handle: fh,
      });
    }
    wd.sort((a, b) => a.wd - b.wd);
    return { type: 'INOTIFY', id, ify: { id, flags: hex(fileFlags(ctx)), fown: FOWN(), wd } };
  },
  async restore(ctx, file) {
    const e = file.ify;
    const flags = parseFlags(e.flags);
    return cachedOfd(ctx, `inotify:${num(file.id)}`, () => {
      const ifd = ck(fds().inotify_init(O.CLOEXEC), 'inotify_init1', { pid: ctx.pid, fd: ctx.fd });
      const wds = [...(e.wd ?? [])].sort((a: any, b: any) => num(a.wd) - num(b.wd));
      for (const w of wds) {
        const fh = w.f_handle ?? {};
        const bytes = num(fh.bytes);
        const hb = Buffer.alloc(Math.max(8, (fh.handle ?? []).length * 8));
        (fh.handle ?? []).forEach((x: any, i: number) => hb.writeBigUInt64LE(BigInt.asUintN(64, big(x)), i * 8));
        let pfd = openHandle(devStr(devNum(w.s_dev)), num(fh.type), hb, bytes);
        let target: string;
        if (pfd >= 0) target = `/proc/self/fd/${pfd}`;
        else if (fh.path) target = fh.path;
        else throw new TscrError('E_RESTORE', `inotify fd ${ctx.fd} of pid ${ctx.pid}: the watched inode ${num(w.i_ino)} (device ${w.s_dev}) is gone`, { pid: ctx.pid, fd: ctx.fd, hint: 'the watched file or directory must still exist when restoring' });
        try {
          const got = fds().inotify_add_wd(ifd, target, num(w.mask), num(w.wd));
          if (got < 0) ck(got, `inotify_add_watch(${fh.path ?? target}) for watch ${num(w.wd)}`, { pid: ctx.pid, fd: ctx.fd });
        } finally { if (pfd >= 0) closeFd(pfd); pfd = -1; }
      }
      setFl(ifd, flags);
      return ifd;
    });
  },
};
export default inotify;
