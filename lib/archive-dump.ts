// The dump engine's archive output (tscr dump --compress): pages are read from
// the frozen target with process_vm_readv straight into the archive writer's shared
// page memory, mostly right where they are compressed (PagesSink.writeWith), hashed,
// deduplicated and compressed as they come: no pages-N.img is ever written. The small
// metadata images are written by the engine's ImageSink to a staging directory and added at the end.
// Runs inside the tracer worker (the thread that owns ptrace).
import { openSync, closeSync, readSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveWriter, type ArchiveStats } from './archive.ts';
import { defaultWorkers } from './archive-pool.ts';
import { TscrError } from './errors.ts';
import { ptraceShimRaw } from '../shim/native.ts';

/** sync: fsync the archive before the dump returns (the dump's --sync; default on unless -R). */
export interface DumpArchiveOptions { path: string; prev?: string; workers?: number; level?: number; sync?: boolean }

/**
 * The dump's compression level: LZ4 with acceleration 2 (arc_pack level -2, like `lz4 --fast=2`):
 * ~12-14% faster than level 1 on real heaps for 0.3-0.4% more bytes; the same LZ4 block format.
 */
export const DUMP_LEVEL = -2;

interface Run { start: bigint; nr: number; parent?: number[] }

export class DumpArchive {
  private w: ArchiveWriter;
  stats: ArchiveStats | null = null;
  constructor(private o: DumpArchiveOptions) {
    this.w = ArchiveWriter.create(o.path, { parent: o.prev, workers: o.workers ?? defaultWorkers(), level: o.level ?? DUMP_LEVEL, sync: o.sync !== false });
  }

  /** Start the compression workers now if `bytes` of memory make them pay off (a dump, before it freezes the tree: see ArchiveWriter.startWorkers). */
  startWorkers(bytes: number): void { this.w.startWorkers(bytes); }

  /** Copy the page runs of pid into pages image `name` of the archive; returns bytes copied. */
  async copyPages(pid: number, runs: Run[], name: string, progress: (bytes: number) => void, checkAbort: () => void): Promise<number> {
    const sh = ptraceShimRaw();
    // The file hash goes over page hashes (kind 2): pages taken from the parent unread (memory
    // tracking) have no bytes here, and for read pages it spares a second pass over every byte.
    const sink = this.w.pages(name, 0o600, { pageHashes: true, expect: runs.reduce((a, r) => a + r.nr, 0) });
    const ranges = new BigUint64Array(2);
    let memFd = -1;
    let bytes = 0;
    // 1 MiB per read: the pages are still in this core's cache when they are hashed right after
    // (4 MiB reads: 10-15% more CPU for the whole dump; 256 KiB: more system calls, no faster)
    const CH = 256;
    try {
      if (runs.some((r) => r.parent)) {
        bytes = await this.copyMixed(pid, runs, sink, progress, checkAbort);
        await sink.end();
        return bytes;
      }
      for (const r of runs) {
        for (let i = 0; i < r.nr;) {
          checkAbort();
          const addr = r.start + BigInt(i) * 4096n;
          // the sink gives room for up to CH pages, often in place in its block ring
          const k = await sink.writeWith(Math.min(CH, r.nr - i), (view) => {
            const k = view.length / 4096;
            ranges[0] = addr; ranges[1] = BigInt(k * 4096);
            let got = Number(sh.vm_readv(pid, view, ranges, 1));
            if (got < 0) got = 0;
            if (got < k * 4096) {
              // what process_vm_readv cannot read (PROT_NONE and the like) through /proc/PID/mem
              if (memFd < 0) memFd = openSync(`/proc/${pid}/mem`, 'r');
              while (got < k * 4096) {
                let n = 0;
                try { n = readSync(memFd, view, got, k * 4096 - got, Number(addr) + got); } catch { n = 0; }
                if (n <= 0) {
                  throw new TscrError('E_DUMP', `cannot read memory at 0x${(addr + BigInt(got)).toString(16)} of pid ${pid}`, { pid, kind: 'memory', hint: 'the region is not readable even through /proc/PID/mem' });
                }
                got += n;
              }
            }
            return k;
          });
          i += k;
          bytes += k * 4096;
          progress(bytes);
        }
      }
      await sink.end();
    } finally {
      if (memFd >= 0) closeSync(memFd);
    }
    return bytes;
  }

  /**
   * Runs of which some come from the parent (memory tracking): written pages are read in
   * batches of up to 1024 pages over many runs (one process_vm_readv with one iovec per run),
   * parent runs referenced in between, all in file order.
   */
  private async copyMixed(pid: number, runs: Run[], sink: ReturnType<ArchiveWriter['pages']>, progress: (bytes: number) => void, checkAbort: () => void): Promise<number> {
    const sh = ptraceShimRaw();
    const MAXR = 1024;
    const ranges = new BigUint64Array(MAXR * 2);
    let bytes = 0;
    let memFd = -1;
    let segs: (number | number[])[] = [];
    let nr = 0, nRead = 0; // ranges and pages to read in this batch
    const flush = async () => {
      if (!segs.length) return;
      checkAbort();
      const n = nr, pages = nRead;
      await sink.writeBatch(pages, (view) => {
        let got = Number(sh.vm_readv(pid, view, ranges, n));
        if (got < 0) got = 0;
        if (got < pages * 4096) {
          // the rest through /proc/PID/mem (PROT_NONE and the like), range by range
          if (memFd < 0) memFd = openSync(`/proc/${pid}/mem`, 'r');
          let off = 0;
          for (let i = 0; i < n; i++) {
            const len = Number(ranges[2 * i + 1]);
            for (let o = Math.max(off, got) - off; o < len;) {
              let k = 0;
              try { k = readSync(memFd, view, off + o, len - o, Number(ranges[2 * i]) + o); } catch { k = 0; }
              if (k <= 0) throw new TscrError('E_DUMP', `cannot read memory at 0x${(ranges[2 * i] + BigInt(o)).toString(16)} of pid ${pid}`, { pid, kind: 'memory', hint: 'the region is not readable even through /proc/PID/mem' });
              o += k;
            }
            off += len;
          }
        }
      }, segs);
      bytes += pages * 4096;
      progress(bytes);
      segs = []; nr = 0; nRead = 0;
    };
    try {
      for (const r of runs) {
        if (r.parent) {
          segs.push(r.parent);
          if (segs.length >= 4096) await flush();
          continue;
        }
        for (let i = 0; i < r.nr;) {
          if (nRead === 1024 || nr === MAXR) await flush();
          const k = Math.min(r.nr - i, 1024 - nRead);
          ranges[2 * nr] = r.start + BigInt(i) * 4096n; ranges[2 * nr + 1] = BigInt(k * 4096);
          nr++; nRead += k; i += k;
          const last = segs[segs.length - 1];
          if (typeof last === 'number') segs[segs.length - 1] = last + k; else segs.push(k);
        }
      }
      await flush();
    } finally {
      if (memFd >= 0) closeSync(memFd);
    }
    return bytes;
  }

  /** Add the metadata images the engine wrote to `dir`, finish the archive (fsync unless sync is off), drop `dir`. */
  async finish(dir: string): Promise<ArchiveStats> {
    for (const n of readdirSync(dir).sort()) await this.w.addFileFrom(n, join(dir, n));
    this.stats = await this.w.finish();
    if (this.o.sync !== false) {
      const fd = openSync(this.o.path, 'r');
      try { (await import('node:fs')).fsyncSync(fd); } finally { closeSync(fd); }
    }
    rmSync(dir, { recursive: true, force: true });
    return this.stats;
  }

  async abort(): Promise<void> { await this.w.abort(); }
}
