// Memory: VMAs (from /proc/PID/smaps) -> mm-PID.img, present pages ->
// pagemap-PID.img + pages-N.img. Present pages are found with the
// PAGEMAP_SCAN ioctl (fallback: /proc/PID/pagemap); zero-pfn pages and clean
// pages of private file mappings are skipped. Pages are read with batched
// process_vm_readv into page-aligned memory, or pread of /proc/PID/mem for
// regions without PROT_READ, and written in large runs.
import { openSync, closeSync, writeSync, readSync, readFileSync, fsyncSync, readlinkSync } from 'node:fs';
import { ptraceShimRaw } from '../../shim/native.ts';
import { stat, readProc } from '../proc.ts';
import { TscrError } from '../errors.ts';
import { u64 } from './task.ts';

const PAGE = 4096n;
const hex = (v: bigint) => '0x' + v.toString(16);

export interface Vma {
  start: bigint; end: bigint; prot: string; pgoff: bigint; dev: string; ino: number; name: string; deleted: boolean;
  vmflags: Set<string>;
  anonHugeKb: number;   // smaps AnonHugePages
}

export function readSmaps(pid: number): Vma[] {
  const text = readProc(pid, 'smaps');
  const out: Vma[] = [];
  let cur: Vma | null = null;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (m) {
      let name = m[7] ?? '';
      let deleted = false;
      if (name.endsWith(' (deleted)')) { deleted = true; name = name.slice(0, -10); }
      cur = { start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), prot: m[3], pgoff: BigInt('0x' + m[4]), dev: m[5], ino: Number(m[6]), name, deleted, vmflags: new Set(), anonHugeKb: 0 };
      out.push(cur);
    } else if (cur && line.startsWith('AnonHugePages:')) {
      cur.anonHugeKb = parseInt(line.slice(14), 10) || 0;
    } else if (cur && line.startsWith('VmFlags:')) {
      for (const f of line.slice(8).trim().split(/\s+/)) cur.vmflags.add(f);
    }
  }
  return out;
}

export type VmaKind = 'anon' | 'file-private' | 'file-shared' | 'anon-shared' | 'memfd' | 'vdso' | 'vvar' | 'vsyscall' | 'unsupported';

/** Shared memory of the fd kinds (issue 4, lib/kinds/shmem.ts): contents of shmem objects, files.img ids of memfds. */
export interface ShmemHooks { anonShared(v: Vma): void; memfdId(v: Vma): number }

export interface VmaPlan {
  vma: Vma;
  kind: VmaKind;
  entry: any;        // vma_entry (crit shape)
  dumpPages: boolean;
  lazy: boolean;     // PE_LAZY (anonymous private memory, as CRIU marks it)
  anonOnly: boolean; // only pages not backed by the file (COW copies)
}

const MADV: [string, number][] = [['dc', 10], ['mg', 12], ['hg', 14], ['nh', 15], ['dd', 16], ['wf', 18]];

/** Classify VMAs and build vma_entry objects. fileIdFor(vma) gives the files.img id of a file mapping. */
export function planVmas(pid: number, vmas: Vma[], fileIdFor: (v: Vma) => number, shmem?: ShmemHooks): VmaPlan[] {
  const out: VmaPlan[] = [];
  for (let i = 0; i < vmas.length; i++) {
    const v = vmas[i];
    const protNames = [v.prot[0] === 'r' && 'PROT_READ', v.prot[1] === 'w' && 'PROT_WRITE', v.prot[2] === 'x' && 'PROT_EXEC'].filter(Boolean).join(' | ');
    const shared = v.prot[3] === 's';
    const flags: string[] = [shared ? 'MAP_SHARED' : 'MAP_PRIVATE'];
    let madv = 0n;
    for (const [f, bit] of MADV) if (v.vmflags.has(f)) madv |= 1n << BigInt(bit);
    const base: any = { start: hex(v.start), end: hex(v.end), pgoff: 0, shmid: 0, prot: protNames, flags: '', status: '', fd: -1 };
    let kind: VmaKind;
    let status: string[];
    if (v.name === '[vvar]' || v.name === '[vvar_vclock]') {
      // CRIU 4.2 records [vvar] and [vvar_vclock] as one VVAR area.
      if (v.name === '[vvar_vclock]' && out.length && out[out.length - 1].kind === 'vvar' && out[out.length - 1].vma.end === v.start) {
        const prev = out[out.length - 1];
        prev.vma = { ...prev.vma, end: v.end };
        prev.entry.end = hex(v.end);
        continue;
      }
      kind = 'vvar';
      flags.push('MAP_ANON');
      status = ['VMA_AREA_REGULAR', 'VMA_ANON_PRIVATE', 'VMA_AREA_VVAR'];
    } else if (v.name === '[vdso]') {
      kind = 'vdso'; flags.push('MAP_ANON'); status = ['VMA_AREA_REGULAR', 'VMA_AREA_VDSO', 'VMA_ANON_PRIVATE'];
      madv = 0n;
    } else if (v.name === '[vsyscall]') {
      kind = 'vsyscall'; flags.push('MAP_ANON'); status = ['VMA_AREA_VSYSCALL', 'VMA_ANON_PRIVATE']; madv = 0n;
    } else if (v.ino === 0 || v.name === '' || v.name === '[heap]' || v.name === '[stack]' || v.name.startsWith('[anon')) {
      if (shared) {
        kind = 'anon-shared'; flags.push('MAP_ANON'); status = ['VMA_AREA_REGULAR', 'VMA_ANON_SHARED'];
      } else {
        kind = 'anon';
        flags.push('MAP_ANON');
        status = ['VMA_AREA_REGULAR', ...(v.name === '[heap]' ? ['VMA_AREA_HEAP'] : []), 'VMA_ANON_PRIVATE'];
      }
      if (v.vmflags.has('gd')) flags.push('MAP_GROWSDOWN');
    } else if (shmem && shared && v.name === '/dev/zero' && v.deleted) {
      // MAP_SHARED|MAP_ANONYMOUS: a shmem object named by its inode; contents in pagemap-shmem-<ino>.img
      kind = 'anon-shared'; flags.push('MAP_ANON'); status = ['VMA_AREA_REGULAR', 'VMA_ANON_SHARED'];
      base.shmid = v.ino;
      base.pgoff = u64(v.pgoff);
      shmem.anonShared(v);
    } else if (shmem && v.name.startsWith('/memfd:')) {
      // a memfd mapping: shmid is the files.img id of a MEMFD entry, as CRIU 4.2 writes it
      kind = 'memfd';
      status = ['VMA_AREA_REGULAR', shared ? 'VMA_FILE_SHARED' : 'VMA_FILE_PRIVATE', 'VMA_AREA_MEMFD'];
      base.pgoff = u64(v.pgoff);
      base.shmid = shmem.memfdId(v);
    } else if (v.name.startsWith('/dev/zero') || v.name.startsWith('/SYSV') || v.name.startsWith('/memfd:') || v.dev === '00:01') {
      kind = 'unsupported'; status = [];
    } else {
      kind = shared ? 'file-shared' : 'file-private';
      status = ['VMA_AREA_REGULAR', shared ? 'VMA_FILE_SHARED' : 'VMA_FILE_PRIVATE'];
      base.pgoff = u64(v.pgoff);
      base.shmid = fileIdFor(v);
      if (v.vmflags.has('gd')) flags.push('MAP_GROWSDOWN');
    }
    if (kind === 'unsupported' || (kind === 'anon-shared' && !shmem)) {
      const what = kind === 'anon-shared' ? 'shared anonymous memory' : `mapping of ${v.name}`;
      throw new TscrError('E_UNSUPPORTED', `unsupported: ${what} at ${hex(v.start)}-${hex(v.end)} in pid ${pid}`, { pid, kind: 'vma', hint: 'tscr cannot checkpoint this memory kind yet; the process was left running as it was' });
    }
    base.flags = flags.join(' | ');
    base.status = status.join(' | ');
    if (madv) base.madv = hex(madv);
    if (kind === 'file-private' || kind === 'file-shared' || kind === 'memfd') base.fdflags = hex(BigInt(shared && v.prot[1] === 'w' ? 2 : 0));
    const privMemfd = kind === 'memfd' && !shared;
    const dumpPages = kind === 'anon' || kind === 'file-private' || kind === 'vdso' || privMemfd;
    out.push({ vma: v, kind, entry: base, dumpPages, lazy: kind === 'anon', anonOnly: kind === 'file-private' || privMemfd });
  }
  return out;
}

/** mm_entry fields from /proc/PID/stat and auxv (brk from the injected brk(0)). */
export function mmEntry(pid: number, brk: bigint, exeFileId: number, plans: VmaPlan[], dumpable: number, thpDisabled: boolean): any {
  const f = stat(pid).f;
  const n = (i: number) => BigInt(f[i] ?? '0');
  const auxvBuf = readFileSync(`/proc/${pid}/auxv`);
  const auxv: (number | bigint)[] = [];
  for (let o = 0; o + 16 <= auxvBuf.length; o += 16) {
    const k = auxvBuf.readBigUInt64LE(o), v = auxvBuf.readBigUInt64LE(o + 8);
    if (k === 0n) break;
    auxv.push(u64(k), u64(v));
  }
  return {
    mm_start_code: hex(n(23)), mm_end_code: hex(n(24)), mm_start_data: hex(n(42)), mm_end_data: hex(n(43)),
    mm_start_stack: hex(n(25)), mm_start_brk: hex(n(44)), mm_brk: hex(brk),
    mm_arg_start: hex(n(45)), mm_arg_end: hex(n(46)), mm_env_start: hex(n(47)), mm_env_end: hex(n(48)),
    exe_file_id: exeFileId,
    mm_saved_auxv: auxv,
    vmas: plans.map((p) => p.entry),
    dumpable,
    thp_disabled: thpDisabled,
  };
}

// PAGEMAP_SCAN categories
const PAGE_IS_FILE = 1 << 2, PAGE_IS_PRESENT = 1 << 3, PAGE_IS_SWAPPED = 1 << 4, PAGE_IS_PFNZERO = 1 << 5, PAGE_IS_HUGE = 1 << 6;

export interface PageRun {
  start: bigint; nr: number; lazy: boolean; readable: boolean;
  /** Incremental dump with memory tracking (lib/dump/track.ts): pages not read, taken from the parent checkpoint (its page ids; -1 = zero page). */
  parent?: number[];
}

/** Runs of pages to store, in address order. */
export function findPages(pid: number, plans: VmaPlan[]): PageRun[] {
  const s = ptraceShimRaw();
  const runs: PageRun[] = [];
  let fd = -1;
  try { fd = openSync(`/proc/${pid}/pagemap`, 'r'); } catch (e: any) {
    throw new TscrError('E_DUMP', `cannot open /proc/${pid}/pagemap: ${e.code}`, { pid });
  }
  try {
    const MAXR = 4096;
    const out = new BigUint64Array(MAXR * 3);
    const walkEnd = new BigUint64Array(1);
    let scanOk = !process.env.TSCR_NO_PAGEMAP_SCAN; // test hook: force the /proc/PID/pagemap path
    for (const p of plans) {
      if (!p.dumpPages) continue;
      const readable = p.vma.prot[0] === 'r';
      let addr = p.vma.start;
      const end = p.vma.end;
      if (scanOk) {
        while (addr < end) {
          const n = s.pagemap_scan(fd, addr, end, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_PFNZERO | PAGE_IS_HUGE, out, MAXR, walkEnd);
          if (n < 0) { scanOk = false; break; }
          for (let i = 0; i < n; i++) {
            let rs = out[i * 3];
            const re = out[i * 3 + 1], cat = Number(out[i * 3 + 2]);
            if (re <= addr) continue;        // already reported by an earlier call
            if (rs < addr) rs = addr;
            if (cat & PAGE_IS_PFNZERO) continue;
            if (p.anonOnly && (cat & PAGE_IS_FILE) && !(cat & PAGE_IS_SWAPPED)) continue;
            const nr = Number((re - rs) / PAGE);
            if ((cat & PAGE_IS_HUGE) && p.kind === 'anon' && readable && nr <= 1 << 20) {
              // A transparent huge page makes all its 4 KiB parts present, touched or not:
              // leave out the parts that are all zero (untouched anonymous memory reads as zero).
              const z = new Uint8Array(nr);
              if (Number(s.scan_zero(pid, rs, nr, z)) > 0) {
                for (let k = 0; k < nr; k++) if (!z[k]) pushRun(runs, rs + BigInt(k) * PAGE, 1, p.lazy, readable);
                continue;
              }
            }
            pushRun(runs, rs, nr, p.lazy, readable);
          }
          // A buffer with room left means the walk reached `end`. Only a full buffer needs
          // another call, from the end of the last region returned. (walk_end is not used:
          // on this kernel it can lag behind regions already returned, e.g. 0x400000 of
          // 0x800000 with every region in the buffer, and would report pages twice.)
          if (n < MAXR) break;
          const next = out[(n - 1) * 3 + 1];
          if (next <= addr) break;
          addr = next;
        }
        if (scanOk) continue;
      }
      // Fallback: /proc/PID/pagemap, 8 bytes per page (bit 63 present, 62 swapped, 61 file/shared)
      const pages = Number((end - p.vma.start) / PAGE);
      const CH = 65536;
      const b = Buffer.alloc(CH * 8);
      for (let i = 0; i < pages; i += CH) {
        const cnt = Math.min(CH, pages - i);
        const got = readSync(fd, b, 0, cnt * 8, Number((p.vma.start / PAGE + BigInt(i)) * 8n));
        for (let j = 0; j < got / 8; j++) {
          const e = b.readBigUInt64LE(j * 8);
          const present = (e >> 63n) & 1n, swapped = (e >> 62n) & 1n, file = (e >> 61n) & 1n;
          if (!present && !swapped) continue;
          if (p.anonOnly && file && !swapped) continue;
          const va = p.vma.start + BigInt(i + j) * PAGE;
          if (p.vma.anonHugeKb > 0 && p.kind === 'anon' && readable) {
            // huge pages: present but untouched 4 KiB parts are zero; leave them out
            const z = new Uint8Array(1);
            if (Number(s.scan_zero(pid, va, 1, z)) === 1) continue;
          }
          pushRun(runs, va, 1, p.lazy, readable);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return runs;
}

function pushRun(runs: PageRun[], start: bigint, nr: number, lazy: boolean, readable: boolean) {
  const last = runs[runs.length - 1];
  if (last && last.lazy === lazy && last.readable === readable && last.start + BigInt(last.nr) * PAGE === start) last.nr += nr;
  else runs.push({ start, nr, lazy, readable });
}

/** inParent: runs taken from the parent are PE_PARENT (a CRIU directory child); in an archive they stay PE_PRESENT (the archive references them). */
export function pagemapEntries(pagesId: number, runs: PageRun[], inParent = false): any[] {
  const out: any[] = [{ pages_id: pagesId }];
  for (const r of runs) {
    const prev = out.length > 1 ? out[out.length - 1] : null;
    const flags = r.parent && inParent ? 'PE_PARENT' : r.lazy ? 'PE_LAZY | PE_PRESENT' : 'PE_PRESENT';
    if (prev && prev.flags === flags && BigInt(prev.vaddr) + BigInt(prev.nr_pages) * PAGE === r.start) { prev.nr_pages += r.nr; continue; }
    out.push({ vaddr: hex(r.start), compat_nr_pages: 0, flags, nr_pages: r.nr });
  }
  return out;
}

export interface CopyStats { bytes: number; pages: number }

/**
 * Copy the page runs of pid into the file at `path` (pages-N.img), in order,
 * with the shim's copy engine (process_vm_readv into one buffer while a C
 * thread writes the other; /proc/PID/mem for what process_vm_readv cannot
 * read). Works in calls of chunkBytes so progress(bytes) and checkAbort()
 * run between them.
 */
export function copyPages(pid: number, runs: PageRun[], path: string, progress: (bytes: number) => void, checkAbort: () => void, sync = true, chunkBytes = 128 << 20): CopyStats {
  const s = ptraceShimRaw();
  const bad = process.env.TSCR_TEST_UNREADABLE_AT; // test hook: a run at an address nothing can read
  if (bad) runs = [...runs, { start: BigInt(bad), nr: 1, lazy: true, readable: true }];
  const out = openSync(path, 'w');
  let memFd = -1;
  let bytes = 0;
  const MAXN = 65536;
  const ranges = new BigUint64Array(MAXN * 2);
  const fail = new BigUint64Array(1);
  // a dump that fsyncs at the end starts writeback as it goes (every 32 MiB), so
  // the disk works during the copy instead of after it (TSCR_NO_EARLY_WRITEBACK=1: off, for the bench)
  const wb = sync && !process.env.TSCR_NO_EARLY_WRITEBACK ? Number(process.env.TSCR_WB_MIB ?? 32) * 1048576 : 0;
  try {
    memFd = openSync(`/proc/${pid}/mem`, 'r');
    let i = 0;
    let off = 0n;
    while (i < runs.length) {
      checkAbort();
      let n = 0, fill = 0;
      while (i < runs.length && fill < chunkBytes && n < MAXN) {
        const r = runs[i];
        const left = BigInt(r.nr) * PAGE - off;
        const take = left < BigInt(chunkBytes - fill) ? left : BigInt(chunkBytes - fill);
        ranges[2 * n] = r.start + off;
        ranges[2 * n + 1] = take;
        n++;
        fill += Number(take);
        off += take;
        if (off >= BigInt(r.nr) * PAGE) { i++; off = 0n; }
      }
      const got = Number(s.copy_pages_wb(pid, ranges, n, out, memFd, fail, wb));
      if (got < 0) {
        if (fail[0]) throw new TscrError('E_DUMP', `cannot read memory at ${hex(fail[0])} of pid ${pid} (errno ${-got})`, { pid, kind: 'memory', hint: 'the region is not readable even through /proc/PID/mem' });
        throw new TscrError('E_IO', `writing ${path} failed (errno ${-got})`, { file: path, hint: 'check free space in the images directory' });
      }
      bytes += got;
      progress(bytes);
    }
    if (sync) fsyncSync(out);
  } finally {
    closeSync(out);
    if (memFd >= 0) closeSync(memFd);
  }
  return { bytes, pages: bytes / 4096 };
}


export { readlinkSync };
