// File ids and fds: one files.img entry per open file description (shared
// offsets across dup'ed fds and across processes get one id, confirmed with
// kcmp), fdinfo-N.img per fd table, mapped files and exe as REG entries, and
// fs-PID.img (cwd, root, umask).
import { fstatSync, closeSync, readlinkSync } from 'node:fs';
import { ptraceShimRaw } from '../../shim/native.ts';
import { fdList, fdLink, fdinfo, status } from '../proc.ts';
import { classify } from '../kinds/index.ts';
import type { DumpFdCtx, ShmemSink } from '../kinds/types.ts';
import { regEntry, describeProcLink, toStat, elfBuildId } from '../kinds/regfile.ts';
import { TscrError } from '../errors.ts';
import type { Vma } from './mm.ts';

const KCMP_FILE = 0;

/** Image entries added by kinds for other images (GHOST_FILE, REMAP_FPATH, PIPES_DATA...). */
export class ExtraImages {
  byMagic = new Map<string, any[]>();
  add(magic: string, entry: any): number {
    const l = this.byMagic.get(magic) ?? [];
    if (!this.byMagic.has(magic)) this.byMagic.set(magic, l);
    l.push(entry);
    return l.length;
  }
}

/** The files.img registry for one dump. */
export class FileTable {
  entries: any[] = [];
  private next = 1;
  private byKey = new Map<string, { id: number; pid: number; fd: number }[]>();
  private plain = new Map<string, number>();
  extra = new ExtraImages();
  /** mapped file ids by /proc/PID/maps "dev:ino:name" */
  byMapsKey = new Map<string, number>();
  /** Per-dump cache of the fd kinds (DumpFdCtx.shared), and whole image files they add (tcp-stream-<ino>.img). */
  shared = new Map<string, unknown>();
  files: { file: string; magic: string; entries: any[] }[] = [];
  /** shmem contents the fd kinds hand over (DumpFdCtx.writeShmem: memfd, shared anonymous memory). */
  shmem = new Map<number, { off: number; data: Buffer }[]>();
  /** Streaming shmem sink (DumpFdCtx.openShmem), set by the dump job: writes pages-N.img as it goes. */
  openShmem?: (shmid: number) => ShmemSink;
  /** pagemap-shmem-<shmid>.img contents written through openShmem. */
  shmemMaps = new Map<number, any[]>();

  newId(): number { return this.next++; }

  /** Id for a key; for fd keys the open file description is confirmed with kcmp. */
  idFor(key: string, pid: number, fd: number): { id: number; isNew: boolean } {
    if (fd < 0) {
      const have = this.plain.get(key);
      if (have !== undefined) return { id: have, isNew: false };
      const id = this.newId();
      this.plain.set(key, id);
      return { id, isNew: true };
    }
    const list = this.byKey.get(key) ?? [];
    for (const c of list) {
      if (ptraceShimRaw().kcmp(pid, c.pid, KCMP_FILE, fd, c.fd) === 0) return { id: c.id, isNew: false };
    }
    const id = this.newId();
    list.push({ id, pid, fd });
    this.byKey.set(key, list);
    return { id, isNew: true };
  }

  add(entry: any) { if (entry) this.entries.push(entry); }
}

function regCtx(ft: FileTable, pid: number, fd?: number) {
  return { pid, fd, addEntry: (m: string, e: any) => ft.extra.add(m, e), fileId: (k: string) => ft.idFor(k, pid, -1) };
}

/** files.img id of a mapped file (and of exe): one id per (dev, ino), like CRIU. */
export function mappedFileId(ft: FileTable, pid: number, v: Vma): number {
  // most VMAs of a process map a few files (exe, libc, ...): look up by /proc's dev:ino first
  const quick = ft.byMapsKey.get(`${v.dev}:${v.ino}:${v.name}`);
  if (quick !== undefined) return quick;
  const id = mappedFileIdSlow(ft, pid, v);
  ft.byMapsKey.set(`${v.dev}:${v.ino}:${v.name}`, id);
  return id;
}

function mappedFileIdSlow(ft: FileTable, pid: number, v: Vma): number {
  const path = `/proc/${pid}/map_files/${v.start.toString(16)}-${v.end.toString(16)}`;
  let link: string;
  try { link = readlinkSync(path); } catch { link = v.name + (v.deleted ? ' (deleted)' : ''); }
  const d = describeProcLink(path, link, 0, 0n);
  const { id, isNew } = ft.idFor(`map:${d.stat.dev}:${d.stat.ino}`, pid, -1);
  if (isNew) {
    if (v.prot[2] === 'x') d.buildId = elfBuildId(path) ?? undefined;
    ft.add(regEntry(regCtx(ft, pid), id, d));
  }
  return id;
}

export function exeFileId(ft: FileTable, pid: number): number {
  const path = `/proc/${pid}/exe`;
  const d = describeProcLink(path, readlinkSync(path), 0, 0n);
  const { id, isNew } = ft.idFor(`map:${d.stat.dev}:${d.stat.ino}`, pid, -1);
  if (isNew) {
    d.buildId = elfBuildId(path) ?? undefined;
    ft.add(regEntry(regCtx(ft, pid), id, d));
  }
  return id;
}

/** fdinfo entries for every fd of pid; files.img entries are added to ft. */
export function dumpFds(ft: FileTable, pid: number, opts: Record<string, unknown>, log: (t: string) => void): any[] {
  const s = ptraceShimRaw();
  const pidfd = s.pidfd_open(pid, 0);
  if (pidfd < 0) throw new TscrError('E_DUMP', `pidfd_open(${pid}) failed (errno ${-pidfd})`, { pid });
  const out: any[] = [];
  try {
    const skip = opts.trackerFds as Set<number> | undefined; // memory trackers (lib/dump/track.ts): never dumped
    for (const fd of fdList(pid)) {
      if (skip?.has(fd)) continue;
      const link = fdLink(pid, fd);
      const info = fdinfo(pid, fd);
      const local = s.pidfd_getfd(pidfd, fd);
      if (local < 0) throw new TscrError('E_DUMP', `cannot copy fd ${fd} of pid ${pid} (pidfd_getfd errno ${-local})`, { pid, fd });
      try {
        const st = toStat(fstatSync(local, { bigint: true }));
        let lastId = 0;
        const ctx: DumpFdCtx = {
          pid, fd, localFd: local, link, stat: st, info,
          fileId: (key: string) => { const r = ft.idFor(key, pid, fd); lastId = r.id; return r; },
          addEntry: (magic: string, entry: any) => (magic === 'FILES' ? ft.add(entry) : ft.extra.add(magic, entry)),
          opts,
          log,
          shared: ft.shared,
          addImageFile: (file: string, magic: string, entries: any[]) => { ft.files.push({ file, magic, entries }); },
          writeShmem: (shmid, runs) => { ft.shmem.set(shmid, runs); },
          openShmem: ft.openShmem,
        };
        const kind = classify(ctx);
        const entry = kind.dump(ctx);
        let id: number;
        let type: string;
        if (entry) { ft.add(entry); id = entry.id; type = entry.type; }
        else {
          // an open file description already described: the id the module looked up
          id = lastId;
          type = ft.entries.find((e) => e.id === id)?.type ?? kind.types[0];
        }
        const cloexec = (info.flags & 0o2000000) !== 0 ? 1 : 0;
        out.push({ id, flags: cloexec, type, fd });
      } finally {
        s.close(local);
      }
    }
  } finally {
    s.close(pidfd);
  }
  return out;
}

/** fs-PID.img entry: cwd and root as REG directory entries, umask. */
export function fsEntry(ft: FileTable, pid: number): any {
  const dirId = (name: string) => {
    const path = `/proc/${pid}/${name}`;
    const d = describeProcLink(path, readlinkSync(path), 0, 0n);
    const id = ft.newId();
    ft.add(regEntry(regCtx(ft, pid), id, d));
    return id;
  };
  const cwd_id = dirId('cwd');
  const root_id = dirId('root');
  const umask = parseInt(status(pid).Umask ?? '022', 8);
  return { cwd_id, root_id, umask };
}

export { fdLink };
