// Restore from a tscr archive without a temporary copy of the pages: the archive
// is verified in full, its metadata images (small) are staged in a RAM-backed
// directory for the restore engine, and the pages are decoded block by block
// and written into each target with process_vm_writev (the engine's
// RestoreOptions.pages hook calls fillFromArchive). Pages of shared memory
// objects (pagemap-shmem-*.img) are staged too: the fd kinds read them as files.
import { mkdtempSync, rmSync, existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ArchiveReader } from './archive.ts';
import { decodeImage } from './images.ts';

export interface PageSourceHook {
  /** `count` pages of pages image `name` from page `firstPage`. */
  read(name: string, firstPage: number, count: number): Uint8Array;
  has(name: string): boolean;
}

export interface OpenedArchive {
  dir: string;          // staged metadata images
  pages: PageSourceHook;
  close(): void;        // removes the staging dir, closes the archive
}

/** Verify `archive` in full, stage its metadata images, and serve its pages. */
export function openArchiveForRestore(archive: string): OpenedArchive {
  const r = ArchiveReader.open(archive);
  let dir = '';
  try {
    r.verify();
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    dir = mkdtempSync(join(base, 'tscr-restore-'));
    const stage = (name: string) => {
      const fd = openSync(join(dir, name), 'w', 0o600);
      try { r.extractTo(name, fd); } finally { closeSync(fd); }
    };
    for (const f of r.list()) if (f.kind !== 'pages') stage(f.name);
    // Shared memory contents (pagemap-shmem-*.img) are read by the fd kinds as files: stage their pages.
    for (const f of r.list()) {
      if (!/^pagemap-shmem-\d+\.img$/.test(f.name)) continue;
      const head = decodeImage(readFileSync(join(dir, f.name))).entries[0];
      const name = `pages-${Number(head?.pages_id ?? -1)}.img`;
      if (r.files.get(name)?.kind === 'pages' && !existsSync(join(dir, name))) stage(name);
    }
  } catch (e) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    r.close();
    throw e;
  }
  return {
    dir,
    pages: {
      read: (name, first, count) => r.readPages(name, first, count),
      has: (name) => r.files.get(name)?.kind === 'pages',
    },
    close: () => { rmSync(dir, { recursive: true, force: true }); r.close(); },
  };
}

/**
 * Write the page runs of one process from the archive: runs are (va, offset in
 * the pages image, length) triples as the engine computes them from the pagemap.
 * write(va, bytes) must write all of bytes at va in the target. Returns bytes written.
 */
export function fillFromArchive(src: PageSourceHook, name: string, runs: bigint[], write: (va: bigint, bytes: Uint8Array) => void): number {
  const STEP = 4096n * 4096n; // 16 MiB per read
  let total = 0;
  for (let i = 0; i < runs.length; i += 3) {
    let va = runs[i], off = runs[i + 1], len = runs[i + 2];
    while (len > 0n) {
      const step = len < STEP ? len : STEP;
      const buf = src.read(name, Number(off / 4096n), Number(step / 4096n));
      write(va, buf);
      total += buf.length;
      va += step; off += step; len -= step;
    }
  }
  return total;
}
