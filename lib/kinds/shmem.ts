// Shared memory between processes (issue 4): MAP_SHARED|MAP_ANONYMOUS areas and
// memfd mappings, as CRIU 4.2 writes them.
//   dump:    anonymous shared areas: vma {status VMA_ANON_SHARED, shmid = shmem
//            inode, pgoff}; contents once per inode in pagemap-shmem-<ino>.img.
//            memfd mappings: vma {status VMA_FILE_SHARED|VMA_AREA_MEMFD, shmid =
//            files.img id of a MEMFD entry}; contents through the memfd module.
//   restore: one memfd in tscr per shmem object (cached for the whole restore,
//            so every process maps the same pages), moved into each process and
//            mapped MAP_SHARED at the area's address: a write in one restored
//            process is seen by the others.
import { fstatSync, readlinkSync, openSync, closeSync } from 'node:fs';
import type { DumpFdCtx, RestoreFdCtx } from './types.ts';
import type { FdStat } from './types.ts';
import { TscrError } from '../errors.ts';
import { dumpShmem, restoreShmemSync, memfdLocalSync } from './memfd.ts';

const O_RDWR = 2;
import memfd from './memfd.ts';

/** What the dump engine's file table offers (lib/dump/files.ts FileTable). */
export interface ShmemTable {
  shared: Map<string, unknown>;
  shmem: Map<number, { off: number; data: Buffer }[]>;
  openShmem?: (shmid: number) => import('./types.ts').ShmemSink;
  idFor(key: string, pid: number, fd: number): { id: number; isNew: boolean };
  add(entry: any): void;
  extra: { add(magic: string, entry: any): unknown };
}
interface MapVma { start: bigint; end: bigint; prot: string; pgoff: bigint; ino: number; name: string; deleted: boolean }

function openMapFile(pid: number, v: MapVma): number {
  const path = `/proc/${pid}/map_files/${v.start.toString(16)}-${v.end.toString(16)}`;
  try { return openSync(path, 0 /* O_RDONLY */); } catch (e: any) {
    throw new TscrError('E_DUMP', `cannot open the shared mapping ${path}: ${e.code ?? e.message}`, { pid, hint: 'tscr needs root (CAP_SYS_ADMIN) to read shared mappings' });
  }
}

/** Hooks for planVmas (lib/dump/mm.ts): records shmem contents and memfd file ids in the dump's file table. */
export function shmemHooks(ft: ShmemTable, pid: number, log: (t: string) => void) {
  return {
    anonShared(v: MapVma): void {
      const key = `shmem:anon:${v.ino}`;
      if (ft.shared.has(key)) return;
      ft.shared.set(key, true);
      const fd = openMapFile(pid, v);
      try {
        const size = Number(fstatSync(fd).size);
        dumpShmem({ pid, fd: -1, openShmem: ft.openShmem, writeShmem: (id, runs) => { ft.shmem.set(id, runs); } }, v.ino, fd, size);
      } finally { closeSync(fd); }
    },
    memfdId(v: MapVma): number {
      const fd = openMapFile(pid, v);
      try {
        const st = fstatSync(fd, { bigint: true });
        const stat: FdStat = { mode: Number(st.mode), dev: st.dev, ino: st.ino, rdev: st.rdev, size: st.size, uid: Number(st.uid), gid: Number(st.gid) };
        const writable = v.prot[1] === 'w' && v.prot[3] === 's';
        let link = '';
        try { link = readlinkSync(`/proc/${pid}/map_files/${v.start.toString(16)}-${v.end.toString(16)}`); } catch { link = v.name + ' (deleted)'; }
        let lastId = 0;
        const ctx: DumpFdCtx = {
          pid, fd: -1, localFd: fd, link, stat,
          info: { pos: 0n, flags: writable ? 2 : 0, mntId: 0, fields: {}, lines: [] },
          fileId: (key: string) => { const r = ft.idFor(`map:${key}`, pid, -1); lastId = r.id; return r; },
          addEntry: (m: string, e: any) => (m === 'FILES' ? ft.add(e) : ft.extra.add(m, e)),
          opts: {}, log, shared: ft.shared,
          writeShmem: (shmid, runs) => { ft.shmem.set(shmid, runs); },
          openShmem: ft.openShmem,
        };
        const entry = memfd.dump(ctx);
        if (entry) { ft.add(entry); return entry.id; }
        return lastId;
      } finally { closeSync(fd); }
    },
  };
}

/**
 * Restore side, for the engine's mm step: a local fd (a dup; the caller closes
 * it) of the memfd that backs VMA `v`: MEMFD file `v.shmid` for memfd mappings,
 * else the shmem object `v.shmid` of MAP_SHARED anonymous memory.
 */
export function shmemFdForVma(ctx: RestoreFdCtx, v: any, file: any | null): number {
  const start = BigInt(v.start), end = BigInt(v.end), pgoff = BigInt(v.pgoff ?? 0);
  const need = Number(pgoff + (end - start));
  if (file) {
    // a shared writable mapping needs the memfd open read-write, whatever the MEMFD entry says
    // (CRIU 4 dumps shared anonymous memory as a memfd whose entry is read-only)
    const prot = String(v.prot ?? ''), flags = String(v.flags ?? '');
    const sharedWrite = /PROT_WRITE/.test(prot) && /MAP_SHARED/.test(flags);
    return memfdLocalSync(ctx, file, sharedWrite ? O_RDWR : undefined);
  }
  return restoreShmemSync(ctx, Number(v.shmid), need);
}
