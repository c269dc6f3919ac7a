// Where a checkpoint's files come from: an image directory, or a tscr archive
// (lib/archive.ts, read through its verified reader). The offline tools only
// see this interface.
import { closeSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TscrError } from '../errors.ts';
import { ArchiveReader } from '../archive.ts';
import { isCompressedDir, pagemapFiles, pagemapLayout, CompressedPages, type PagemapLayout } from '../criucomp.ts';
import { preadFull } from '../fsread.ts';

export interface Source {
  readonly kind: 'dir' | 'archive';
  readonly label: string;                 // the directory or archive path
  names(): string[];
  size(name: string): number;
  readAll(name: string): Uint8Array;
  /** Read dst.length bytes at off (short only at end of file); returns bytes read. */
  readAt(name: string, off: number, dst: Uint8Array): number;
  /** How to name the file in messages. */
  where(name: string): string;
  close(): void;
}

export class DirSource implements Source {
  readonly kind = 'dir' as const;
  private list: string[];
  constructor(readonly label: string) {
    this.list = readdirSync(label).filter((n) => {
      try { return statSync(join(label, n)).isFile(); } catch { return false; }
    }).sort();
  }
  names() { return this.list; }
  // criu-dev compressed pages (lib/criucomp.ts): pages-N.img reads see the raw pages,
  // only the blocks a read needs are read and decoded (checked).
  private comp: Map<string, PagemapLayout> | null = null;
  /** Set by the Checkpoint: false when no pagemap can be compressed (skips the layout decode). */
  probe?: () => boolean;
  private readers = new Map<string, CompressedPages>();
  private compressed(name: string): PagemapLayout | null {
    if (!/^pages-\d+\.img$/.test(name)) return null;
    if (!this.comp) {
      this.comp = new Map();
      if (this.probe && !this.probe()) return null;
      // a pagemap tscr cannot lay out is reported by `tscr validate` (criucompProblems); here its pages read as stored
      try {
        if (isCompressedDir(this.label)) for (const pm of pagemapFiles(this.label)) { const l = pagemapLayout(this.label, pm); if (l.compressed) this.comp.set(l.pages, l); }
      } catch { this.comp.clear(); }
    }
    return this.comp.get(name) ?? null;
  }
  private reader(name: string, l: PagemapLayout): CompressedPages {
    let r = this.readers.get(name);
    if (!r) { r = new CompressedPages(this.label, l); this.readers.set(name, r); }
    return r;
  }
  size(name: string) { const l = this.compressed(name); return l ? l.rawSize : statSync(join(this.label, name)).size; }
  readAll(name: string) { const l = this.compressed(name); return l ? this.reader(name, l).read(0, l.rawSize) : readFileSync(join(this.label, name)); }
  readAt(name: string, off: number, dst: Uint8Array): number {
    const l = this.compressed(name);
    if (l) {
      const b = this.reader(name, l).read(off, dst.length);
      dst.set(b);
      return b.length;
    }
    const fd = openSync(join(this.label, name), 'r');
    try {
      return preadFull(fd, dst, off);
    } finally { closeSync(fd); }
  }
  where(name: string) { return join(this.label, name); }
  close() { for (const r of this.readers.values()) r.close(); this.readers.clear(); }
}

export class ArchiveSource implements Source {
  readonly kind = 'archive' as const;
  readonly reader: ArchiveReader;
  private sizes = new Map<string, { size: number; pages: boolean }>();
  constructor(readonly label: string) {
    this.reader = ArchiveReader.open(label);
    for (const f of this.reader.list()) this.sizes.set(f.name, { size: f.size, pages: f.kind === 'pages' });
  }
  names() { return [...this.sizes.keys()].sort(); }
  size(name: string) {
    const s = this.sizes.get(name);
    if (!s) throw new TscrError('E_NOT_FOUND', `${name} is not in archive ${this.label}`, { file: this.label });
    return s.size;
  }
  readAll(name: string) { return this.reader.readFile(name); }
  readAt(name: string, off: number, dst: Uint8Array): number {
    const s = this.sizes.get(name);
    if (!s) throw new TscrError('E_NOT_FOUND', `${name} is not in archive ${this.label}`, { file: this.label });
    const len = Math.max(0, Math.min(dst.length, s.size - off));
    if (!len) return 0;
    if (s.pages) {
      const first = Math.floor(off / 4096);
      const count = Math.ceil((off + len) / 4096) - first;
      const b = this.reader.readPages(name, first, count);
      dst.set(b.subarray(off - first * 4096, off - first * 4096 + len));
    } else {
      dst.set(this.reader.readFile(name).subarray(off, off + len));
    }
    return len;
  }
  where(name: string) { return `${this.label}:${name}`; }
  close() { this.reader.close(); }
}

export function openSource(path: string): Source {
  let st;
  try { st = statSync(path); } catch {
    throw new TscrError('E_NOT_FOUND', `no checkpoint at ${path}`, { file: path, hint: 'give the directory that `tscr dump` or `criu dump` wrote (it holds inventory.img), or a tscr archive' });
  }
  if (st.isDirectory()) return new DirSource(path);
  if (ArchiveReader.isArchive(path)) return new ArchiveSource(path);
  throw new TscrError('E_BAD_MAGIC', `${path} is neither an image directory nor a tscr archive`, { file: path, hint: 'give the image directory, or an archive made by `tscr convert`' });
}
