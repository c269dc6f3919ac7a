// memfd: files.img MEMFD {id, flags, pos, fown, inode_id}; MEMFD_INODE {name,
// uid, gid, size, shmid, seals, inode_id, mode}; contents as shmem pages
// (pagemap-shmem-<shmid>.img + pages, written by the engine: ctx.writeShmem).
// The shmem helpers below also serve MAP_SHARED anonymous memory and MAP_SHARED
// memfd mappings (see restoreShmemFd).
import { fstatSync, openSync, closeSync } from 'node:fs';
import type { FdKind, DumpFdCtx, RestoreFdCtx } from './types.ts';
import { TscrError } from '../errors.ts';
import { preadFull } from '../fsread.ts';
import {
  O, F, FOWN, num, big, fds, ck, fileFlags, setFl, cachedOfdSync, closeFd, dumpShared, rfileFlagsStr, parseFlags, sealsStr, SEALS,
} from './fdutil.ts';

const PAGE = 4096;
const MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
const SEEK_SET = 0;

/**
 * Walk the non-zero pages of a shmem file (memfd, /proc/PID/map_files of a
 * shared mapping): emit(off, data) per stretch of non-zero pages; data is a
 * view into one reused buffer, valid only during the call.
 */
export function scanShmem(fd: number, size: number, emit: (off: number, data: Buffer) => void): void {
  const CH = 4 << 20;
  const chunk = Buffer.allocUnsafeSlow(CH);
  const ZERO = Buffer.alloc(PAGE);
  for (let off = 0; off < size; off += CH) {
    const want = Math.min(CH, Math.ceil((size - off) / PAGE) * PAGE);
    const got = preadFull(fd, chunk, off, want);
    chunk.fill(0, got, want);
    let from = -1;
    for (let p = 0; p <= want; p += PAGE) {
      const zero = p === want || ZERO.compare(chunk, p, p + PAGE) === 0;
      if (!zero && from < 0) from = p;
      else if (zero && from >= 0) { emit(off + from, chunk.subarray(from, p)); from = -1; }
    }
  }
}

/** The non-zero pages of a shmem file as runs (copies). */
export function readShmemRuns(fd: number, size: number): { off: number; data: Buffer }[] {
  const runs: { off: number; data: Buffer }[] = [];
  scanShmem(fd, size, (off, data) => runs.push({ off, data: Buffer.from(data) }));
  return runs;
}

/** Store a shmem object's contents through the engine: streamed (openShmem) or as runs (writeShmem). */
export function dumpShmem(ctx: Pick<DumpFdCtx, 'openShmem' | 'writeShmem' | 'pid' | 'fd'>, shmid: number, fd: number, size: number): void {
  if (ctx.openShmem) {
    const sink = ctx.openShmem(shmid);
    try {
      if (sink.fd !== undefined && sink.wrote) {
        // in the kernel: data extents of the shmem file appended to the pages file (sendfile)
        let max = 4096;
        for (;;) {
          const runs = new BigUint64Array(max * 2);
          const n = fds().shmem_copy(fd, size, sink.fd, runs, max);
          if (n === -28 /* ENOSPC */ && max < 1 << 22) { max *= 16; continue; } // nothing was lost: runs are appended in order
          ck(n, `copying the contents of shmem ${shmid}`, { pid: ctx.pid, fd: ctx.fd });
          for (let i = 0; i < n; i++) sink.wrote(Number(runs[2 * i]), Number(runs[2 * i + 1]));
          break;
        }
      } else scanShmem(fd, size, (off, data) => sink.pages(off, data));
    } finally { sink.end(); }
    return;
  }
  if (!ctx.writeShmem) throw new TscrError('E_INTERNAL', 'the dump engine cannot store shmem contents (DumpFdCtx.openShmem/writeShmem)', { pid: ctx.pid, fd: ctx.fd });
  ctx.writeShmem(shmid, readShmemRuns(fd, size));
}

/**
 * A memfd in tscr holding the pages of shmem `shmid` (created once per restore,
 * grown to at least minSize; returns a dup the caller closes).
 */
export function restoreShmemSync(ctx: RestoreFdCtx, shmid: number, minSize: number, name = 'tscr-shmem'): number {
  const fd = cachedOfdSync(ctx, `shmem:${shmid}`, () => {
    const fd = ck(fds().memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), `memfd_create(${name})`, { pid: ctx.pid, fd: ctx.fd });
    let end = minSize;
    const src = ctx.shmemSource?.(shmid);
    if (src) {
      // file to memfd inside C: the pages never pass through JS memory
      const pf = openSync(src.file, 'r');
      try {
        for (const r of src.runs) {
          const n = Number(fds().fd_copy(pf, r.fileOff, fd, r.off, r.len));
          ck(n, `copying the pages of shmem ${shmid} from ${src.file}`, { pid: ctx.pid, fd: ctx.fd });
          if (n !== r.len) throw new TscrError('E_TRUNCATED', `pages file of shmem ${shmid} ends early`, { file: src.file, offset: r.fileOff + n });
          end = Math.max(end, r.off + r.len);
        }
      } finally { closeSync(pf); }
    } // else no pagemap-shmem image: the object had no pages (all holes)
    ck(fds().ftruncate(fd, end), 'ftruncate of a memfd');
    return fd;
  });
  if (Number(fstatSync(fd).size) < minSize) ck(fds().ftruncate(fd, minSize), 'ftruncate of a memfd');
  return fd;
}
export const restoreShmemFd = (ctx: RestoreFdCtx, shmid: number, size: number, name?: string) => restoreShmemSync(ctx, shmid, size, name);

/** The local fd (a dup) of a MEMFD files.img entry: its inode's pages, seals, mode, then its own flags and position. */
export function memfdLocalSync(ctx: RestoreFdCtx, file: any, accmode?: number): number {
  const m = file.memfd;
  const inodes = [...(ctx.image('MEMFD_INODE') ?? []), ...(ctx.image('MEMFD') ?? [])]; // engines name it by magic or by file (memfd.img)
  const inode = inodes.find((e: any) => num(e.inode_id) === num(m.inode_id));
  if (!inode) throw new TscrError('E_INCONSISTENT', `memfd file ${num(file.id)} names inode ${num(m.inode_id)}, which is not in memfd.img`, { kind: 'MEMFD_INODE', pid: ctx.pid, fd: ctx.fd });
  let flags = parseFlags(m.flags);
  if (accmode !== undefined) flags = (flags & ~O.ACCMODE) | accmode;
  const seals = parseFlags(inode.seals, SEALS);
  return cachedOfdSync(ctx, `memfd:${num(file.id)}${accmode !== undefined ? `:${accmode}` : ''}`, () => {
    const base = restoreShmemSync(ctx, num(inode.shmid), num(inode.size), inode.name);
    try {
      if (num(inode.size) !== Number(fstatSync(base).size)) ck(fds().ftruncate(base, num(inode.size)), 'ftruncate of a memfd');
      if (inode.mode !== undefined) ck(fds().fchmod(base, num(inode.mode) & 0o7777), 'fchmod of a memfd');
      if (ctx.shared.get(`memfd:sealed:${num(inode.shmid)}`) === undefined) {
        ctx.shared.set(`memfd:sealed:${num(inode.shmid)}`, true);
        // A memfd made without MFD_ALLOW_SEALING reports F_SEAL_SEAL alone; adding it gives the same.
        if (seals) ck(fds().fcntl(base, F.ADD_SEALS, seals), `adding seals ${inode.seals}`, { pid: ctx.pid, fd: ctx.fd });
      }
      const fd = ck(fds().reopen(base, (flags & O.ACCMODE) | O.LARGEFILE), 'reopening a memfd', { pid: ctx.pid, fd: ctx.fd });
      ck(fds().lseek(fd, big(m.pos), SEEK_SET), 'lseek of a memfd');
      setFl(fd, flags);
      return fd;
    } finally { closeFd(base); }
  });
}

function memfdName(link: string): string {
  return link.replace(/^\/memfd:/, '').replace(/ \(deleted\)$/, '');
}

function dumpInode(ctx: DumpFdCtx): number {
  const shared = dumpShared(ctx);
  const ino = Number(ctx.stat.ino);
  const key = `memfd:inode:${ino}`;
  let inodeId = shared.get(key) as number | undefined;
  if (inodeId !== undefined) return inodeId;
  inodeId = (shared.get('memfd:next') as number | undefined) ?? 1;
  shared.set('memfd:next', inodeId + 1);
  shared.set(key, inodeId);
  const seals = ck(fds().fcntl(ctx.localFd, F.GET_SEALS, 0), 'fcntl(F_GET_SEALS)', { pid: ctx.pid, fd: ctx.fd });
  const size = Number(ctx.stat.size);
  dumpShmem(ctx, ino, ctx.localFd, size);
  ctx.addEntry('MEMFD_INODE', {
    name: memfdName(ctx.link), uid: ctx.stat.uid, gid: ctx.stat.gid, size, shmid: ino, seals: sealsStr(seals), inode_id: inodeId, mode: ctx.stat.mode,
  });
  return inodeId;
}

export const memfd: FdKind = {
  kind: 'memfd',
  types: ['MEMFD'],
  match(ctx) { return ctx.link.startsWith('/memfd:'); },
  dump(ctx) {
    const flags = fileFlags(ctx);
    const { id, isNew } = ctx.fileId(`memfd:${ctx.stat.ino}`);
    if (!isNew) return null;
    if (ctx.link.startsWith('/memfd:') && / \(deleted\)$/.test(ctx.link) === false) ctx.log(`memfd fd ${ctx.fd}: unexpected link ${ctx.link}`);
    const inodeId = dumpInode(ctx);
    return { type: 'MEMFD', id, memfd: { id, flags: rfileFlagsStr(flags), pos: Number(ctx.info.pos), fown: FOWN(), inode_id: inodeId } };
  },
  restore(ctx, file) { return memfdLocalSync(ctx, file); },
};
export default memfd;
