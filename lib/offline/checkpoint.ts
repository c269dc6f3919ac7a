// A checkpoint opened for offline inspection (validate, diff, mem, report).
// Reads the image directory lazily, walks each image's framing in the Wasm core
// (val_frames), decodes entries into crit's JSON shape, and builds a per-process
// model (tree, VMAs, pagemap with offsets into pages-N.img, fds). Never loads the
// native shim: this runs on any OS.
import { openSource, DirSource, type Source } from './source.ts';
import { TscrError } from '../errors.ts';
import { core, passBytes, release, takeBytes } from '../../core-as/host.ts';
import { KINDS, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, X_RAW, hex32, isRawFile } from './magic.ts';
import { decodeImageFile } from './decode.ts';

export const PAGE = 4096;
export const PE_PARENT = 1, PE_LAZY = 2, PE_PRESENT = 4;

/** Sane limits: anything above is reported, not processed. */
export const LIMITS = {
  entrySize: 64 << 20,      // one protobuf entry
  entries: 4_000_000,       // entries in one image
  vmas: 1_000_000,          // per process (kernel default max_map_count is 65530)
  processes: 100_000,
  threads: 100_000,
  fds: 1 << 20,
};

export interface FrameRow { offset: number; size: number; xoff: number; xlen: number }
export interface Frames {
  status: number;    // VS_* of validate.ts
  bad: number;       // offset of the problem
  magic1: number;
  magic2: number;
  header: number;
  rows: FrameRow[];
  kind: string | null; // crit's name, null if unknown
  magic: number;       // the image-specific magic
}

export const FRAME_STATUS: Record<number, string> = {
  0: 'ok',
  1: 'file is shorter than its magic numbers',
  2: 'an entry size word is cut off (truncated file)',
  3: 'an entry runs past the end of the file (truncated file)',
  4: 'an entry is not well-formed protobuf',
  5: 'the raw data after an entry runs past the end of the file (truncated file)',
  6: 'an entry claims an absurd size',
  7: 'too many entries',
};

// Addresses are Numbers, not BigInts: x86_64 user addresses are below 2^47, and every
// page-aligned 64-bit value (vsyscall's 0xffffffffff600000) is exact as a double.
// A value no double holds exactly is never page aligned; addr() keeps it unaligned so
// the range checks still report it. (BigInts made a third of `tscr mem`'s time GC.)
export interface Vma {
  index: number;
  start: number;
  end: number;
  pgoff: number;
  shmid: number;
  prot: string;
  flags: string;
  status: string;
  kind: string;  // text, data, heap, stack, vdso, vvar, vsyscall, file, shmem, anon
  name: string;  // file path or [heap] etc.
}
export interface PmEntry {
  index: number;   // entry index in the pagemap image (head is 0)
  vaddr: number;
  nr: number;
  flags: number;
  fileOff: number; // byte offset in pages-N.img, -1 when the pages are not there
}
export interface Fd { fd: number; id: number; type: string; flags: number; index: number }
export interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  threads: number[];
  index: number; // pstree entry index
  comm: string;
  state: string;
  vmas: Vma[];
  pm: PmEntry[];
  pagesId: number | null;
  filesId: number | null;
  fds: Fd[];
}

export function big(x: unknown): bigint {
  if (typeof x === 'bigint') return x;
  if (typeof x === 'number') return BigInt(Math.trunc(x));
  if (typeof x === 'string' && x.length) { try { return BigInt(x); } catch { /* fallthrough */ } }
  return 0n;
}
/** A u64 given as two u32 halves, as a Number (see Vma). */
export function u64(lo: number, hi: number): number {
  if (hi < 0x200000) return hi * 4294967296 + lo; // below 2^53: exact
  return addr((BigInt(hi) << 32n) | BigInt(lo));
}
/** A 64-bit address as a Number: exact when it can be; an inexact one stays page-unaligned. */
export function addr(x: unknown): number {
  const b = BigInt.asUintN(64, big(x));
  const n = Number(b);
  if (BigInt(n) === b || b % 4096n === 0n) return n;
  if (n >= 2 ** 64) return 2 ** 64 - 2048; // rounded up past u64: the largest double below it (unaligned)
  if (n % 4096 !== 0) return n;
  let e = Math.floor(Math.log2(n)); // Math.log2 may round up near a power of two
  if (2 ** e > n) e--;
  const ulp = 2 ** (e - 52);
  return n - ulp; // the representable neighbour, still unaligned as the original was
}
/** Hex of a 64-bit address held as a Number. */
export function hexAddr(n: number): string { return '0x' + n.toString(16); }

export function num(x: unknown): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'bigint') return Number(x);
  if (typeof x === 'string' && x.length) { const n = Number(x); return Number.isFinite(n) ? n : 0; }
  return 0;
}
export function flagBits(x: unknown, names: Record<string, number>): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'bigint') return Number(x);
  if (typeof x !== 'string') return 0;
  if (names === PE_NAMES_REF) { const c = PE_CACHE.get(x); if (c !== undefined) return c; }
  let v = 0;
  for (const part of x.split('|')) {
    const p = part.trim();
    if (!p) continue;
    if (p in names) v |= names[p];
    else if (/^(0x[0-9a-f]+|\d+)$/i.test(p)) v |= Number(p);
  }
  if (names === PE_NAMES_REF) PE_CACHE.set(x, v);
  return v;
}
const PE_NAMES = { PE_PARENT, PE_LAZY, PE_PRESENT };
const PE_NAMES_REF: Record<string, number> = PE_NAMES;

export function vmaKind(status: string, flags: string, prot: string): string {
  if (status.includes('VMA_AREA_VSYSCALL')) return 'vsyscall';
  if (status.includes('VMA_AREA_VDSO')) return 'vdso';
  if (status.includes('VMA_AREA_VVAR')) return 'vvar';
  if (status.includes('VMA_AREA_HEAP')) return 'heap';
  if (status.includes('VMA_AREA_STACK') || flags.includes('MAP_GROWSDOWN')) return 'stack';
  if (status.includes('VMA_AREA_MEMFD') || status.includes('VMA_ANON_SHARED') || status.includes('VMA_FILE_SHARED')) return 'shared';
  if (status.includes('VMA_FILE_PRIVATE')) return prot.includes('PROT_EXEC') ? 'text' : 'file';
  return 'anon';
}

// crit's names for the numeric fields of vma_entry (pycriu pb2dict maps)
const PROT_NAMES: [string, number][] = [['PROT_READ', 1], ['PROT_WRITE', 2], ['PROT_EXEC', 4]];
const MAP_NAMES: [string, number][] = [['MAP_SHARED', 0x1], ['MAP_PRIVATE', 0x2], ['MAP_DROPPABLE', 0x8], ['MAP_ANON', 0x20], ['MAP_GROWSDOWN', 0x100]];
const STATUS_NAMES: [string, number][] = [
  ['VMA_AREA_REGULAR', 1 << 0], ['VMA_AREA_STACK', 1 << 1], ['VMA_AREA_VSYSCALL', 1 << 2], ['VMA_AREA_VDSO', 1 << 3],
  ['VMA_AREA_HEAP', 1 << 5], ['VMA_FILE_PRIVATE', 1 << 6], ['VMA_FILE_SHARED', 1 << 7], ['VMA_ANON_SHARED', 1 << 8],
  ['VMA_ANON_PRIVATE', 1 << 9], ['VMA_AREA_SYSVIPC', 1 << 10], ['VMA_AREA_SOCKET', 1 << 11], ['VMA_AREA_VVAR', 1 << 12],
  ['VMA_AREA_AIORING', 1 << 13], ['VMA_AREA_MEMFD', 1 << 14], ['VMA_AREA_SHSTK', 1 << 15], ['VMA_AREA_UPROBES', 1 << 17],
  ['VMA_UNSUPP', 1 << 31],
];
const NAME_CACHE = new Map<string, string>();
function bitsName(v: number, names: [string, number][]): string {
  const key = names[0][0] + v;
  let s = NAME_CACHE.get(key);
  if (s !== undefined) return s;
  const parts: string[] = [];
  let rest = v >>> 0;
  for (const [n, b] of names) if ((rest & b) >>> 0 === b >>> 0) { parts.push(n); rest = (rest & ~b) >>> 0; }
  if (rest) parts.push('0x' + rest.toString(16));
  s = parts.join(' | ');
  NAME_CACHE.set(key, s);
  return s;
}

function vmaName(v: Vma, files: Map<number, any>): string {
  const { status, kind } = v;
  if (status.includes('VMA_FILE_PRIVATE') || status.includes('VMA_FILE_SHARED') || status.includes('VMA_AREA_MEMFD')) {
    const f = files.get(v.shmid);
    return f?.reg?.name ?? (f?.memfd ? `memfd:${f.memfd.name ?? ''}` : `file id ${v.shmid}`);
  }
  if (kind === 'heap' || kind === 'stack' || kind === 'vdso' || kind === 'vvar' || kind === 'vsyscall') return `[${kind}]`;
  if (kind === 'shared') return `[shmem ${v.shmid}]`;
  return '';
}

/** Index of the last VMA whose start is <= addr (0 when none); VMAs sorted by start. */
export function lastStartAtOrBelow(vmas: { start: number }[], at: number): number {
  let lo = 0, hi = vmas.length - 1, r = 0;
  while (lo <= hi) {
    const m = (lo + hi) >>> 1;
    if (vmas[m].start <= at) { r = m; lo = m + 1; } else hi = m - 1;
  }
  return r;
}

export class Checkpoint {
  readonly dir: string;
  readonly names: string[];
  private bytes = new Map<string, Buffer>();
  private framesCache = new Map<string, Frames>();
  private images = new Map<string, any>();
  private decodeErrors = new Map<string, TscrError>();
  private procsCache: Proc[] | null = null;

  readonly src: Source;

  constructor(path: string) {
    this.src = openSource(path);
    this.dir = path;
    this.names = this.src.names();
    if (this.src instanceof DirSource) this.src.probe = () => this.maybeCompressed();
  }

  private compressedCache: boolean | undefined;
  /**
   * Might this directory hold criu-dev compressed pages (lib/criucomp.ts)? Cheap: the
   * inventory's fields, then one pass of the core over each pagemap (flag
   * PE_PAYLOAD_ALIGNED or any field past nr_pages). When false, nothing needs the full
   * compressed-pages layout (a generic decode of every pagemap entry).
   */
  maybeCompressed(): boolean {
    if (this.compressedCache !== undefined) return this.compressedCache;
    let maybe = false;
    if (this.has('inventory.img')) {
      const inv = this.tryImage('inventory.img')?.entries?.[0];
      maybe = !inv || inv.compress !== undefined || inv.compress_region_size !== undefined || num(inv.img_version) >= 3;
    }
    for (const name of this.names) {
      if (maybe) break;
      if (!/^pagemap-\d+\.img$/.test(name)) continue;
      const ex = core();
      let p = 0;
      try { p = passBytes(this.read(name)); maybe = ex.val_pagemap_extra(p) !== 0; } catch { maybe = true; } finally { if (p) release(p); }
    }
    return (this.compressedCache = maybe);
  }

  has(name: string): boolean { return this.names.includes(name); }
  /** The file as named in messages (a path, or archive:name). */
  path(name: string): string { return this.src.where(name); }
  size(name: string): number { return this.src.size(name); }

  /** Whole file (for images; pages files are read in chunks via readPagesInto). */
  read(name: string): Buffer {
    let b = this.bytes.get(name);
    if (!b) {
      const sz = this.size(name);
      if (sz > 1 << 30) throw new TscrError('E_TOO_LARGE', `image ${name} is ${sz} bytes, more than any image file should be`, { file: this.path(name) });
      const r = this.src.readAll(name);
      b = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
      this.bytes.set(name, b);
    }
    return b;
  }

  /** Is this a framed CRIU image (not raw pages or an unrelated file)? */
  isImage(name: string): boolean {
    return (name.endsWith('.img') || name === 'stats-dump' || name === 'irmap-cache') && !isRawFile(name);
  }

  /** Walk the framing of one image in the Wasm core. */
  frames(name: string): Frames {
    const c = this.framesCache.get(name);
    if (c) return c;
    const buf = this.read(name);
    const m1 = buf.length >= 4 ? buf.readUInt32LE(0) : 0;
    const magic = (m1 === IMG_COMMON_MAGIC || m1 === IMG_SERVICE_MAGIC) && buf.length >= 8 ? buf.readUInt32LE(4) : m1;
    const info = KINDS[magic];
    const [mode, a, b] = info ? info.extra : [isRawFile(name) ? X_RAW : 0, 0, 0];
    const ex = core();
    const p = passBytes(buf);
    let words: Uint32Array;
    try {
      const r = ex.val_frames(p, mode, a, b, LIMITS.entrySize, LIMITS.entries);
      const out = takeBytes(r);
      words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >> 2);
    } finally { release(p); }
    const rows: FrameRow[] = [];
    const n = words[5];
    for (let i = 0; i < n; i++) rows.push({ offset: words[6 + 4 * i], size: words[7 + 4 * i], xoff: words[8 + 4 * i], xlen: words[9 + 4 * i] });
    const f: Frames = { status: words[0], bad: words[1], magic1: words[2], magic2: words[3], header: words[4], rows, kind: info ? info.name : null, magic };
    this.framesCache.set(name, f);
    return f;
  }

  /** Offset of entry i of an image (its size word), or 0. */
  entryOffset(name: string, i: number): number {
    try { return this.frames(name).rows[i]?.offset ?? 0; } catch { return 0; }
  }

  /** Decoded image in crit's JSON shape, or null when absent; throws TscrError when undecodable. */
  image(name: string): any | null {
    if (!this.has(name)) return null;
    if (this.images.has(name)) return this.images.get(name);
    const err = this.decodeErrors.get(name);
    if (err) throw err;
    try {
      const img = decodeImageFile(this.src.kind === 'dir' ? this.dir : '', name, this.read(name), this.path(name));
      this.images.set(name, img);
      return img;
    } catch (e) {
      const te = e instanceof TscrError ? e : new TscrError('E_CORRUPT', `cannot decode ${name}: ${(e as Error).message}`, { file: this.path(name) });
      this.decodeErrors.set(name, te);
      throw te;
    }
  }

  /** image() that returns null instead of throwing (validate reports the error separately). */
  tryImage(name: string): any | null {
    try { return this.image(name); } catch { return null; }
  }

  entries(name: string): any[] {
    return this.tryImage(name)?.entries ?? [];
  }

  /** One file entry of files.img by id. */
  fileById(): Map<number, any> {
    const m = new Map<number, any>();
    for (const e of this.entries('files.img')) m.set(num(e.id), e);
    return m;
  }

  /** The process model. */
  procs(): Proc[] {
    if (this.procsCache) return this.procsCache;
    const procs: Proc[] = [];
    this.entries('pstree.img').forEach((e, index) => {
      const pid = num(e.pid);
      const p = { pid, ppid: num(e.ppid), pgid: num(e.pgid), sid: num(e.sid), threads: (e.threads ?? []).map(num), index } as Proc;
      // the rest is decoded on first use: `tscr mem` needs no fds, `diff` no core
      lazy(p, ['comm', 'state'], () => {
        const c = this.entries(`core-${pid}.img`)[0];
        return { comm: c?.tc?.comm ?? '', state: c?.tc?.task_state ?? '' };
      });
      lazy(p, ['vmas'], () => ({ vmas: this.vmasOf(pid) }));
      lazy(p, ['pm', 'pagesId'], () => this.pagemapOf(pid));
      lazy(p, ['filesId', 'fds'], () => {
        const ids = this.entries(`ids-${pid}.img`)[0];
        const filesId = ids ? num(ids.files_id) : null;
        const fds: Fd[] = filesId === null ? [] : this.entries(`fdinfo-${filesId}.img`).map((f: any, i: number) => ({ fd: num(f.fd), id: num(f.id), type: String(f.type), flags: num(f.flags), index: i }));
        return { filesId, fds };
      });
      procs.push(p);
    });
    this.procsCache = procs;
    return procs;
  }

  private filesCache: Map<number, any> | null = null;

  private fastCache = new Map<string, Uint32Array | null>();

  /**
   * The numeric table of mm-PID.img or pagemap-PID.img read by the Wasm core
   * (val_mm / val_pagemap), or null when that image is absent or anything in it
   * is unexpected (then the codec path decodes it and reports precisely).
   * u64 words as pairs of u32 (word k = [2k] low, [2k+1] high): no BigInt per value.
   */
  fast(name: string): Uint32Array | null {
    if (this.fastCache.has(name)) return this.fastCache.get(name)!;
    let t: Uint32Array | null = null;
    if (this.has(name)) {
      try {
        const f = this.frames(name);
        if (f.status === 0 && (f.kind === 'MM' || f.kind === 'PAGEMAP')) {
          const ex = core();
          const p = passBytes(this.read(name));
          try {
            const r = takeBytes(f.kind === 'MM' ? ex.val_mm(p) : ex.val_pagemap(p));
            const w = new Uint32Array(r.buffer, r.byteOffset, r.byteLength >> 2);
            if (w[0] === 0 && w[1] === 0) t = w;
          } finally { release(p); }
        }
      } catch { t = null; }
    }
    this.fastCache.set(name, t);
    return t;
  }

  /** exe_file_id of a process's mm, or undefined. */
  exeFileId(pid: number): number | undefined {
    const t = this.fast(`mm-${pid}.img`);
    if (t) return u64(t[2], t[3]);
    const mm = this.entries(`mm-${pid}.img`)[0];
    return mm?.exe_file_id !== undefined ? num(mm.exe_file_id) : undefined;
  }

  private vmasOf(pid: number): Vma[] {
    const files = (this.filesCache ??= this.fileById());
    const t = this.fast(`mm-${pid}.img`);
    if (t) {
      const n = t[4];
      const out: Vma[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const o = 6 + 16 * i; // u32 index of the row's first word
        const status = bitsName(t[o + 12], STATUS_NAMES), flags = bitsName(t[o + 10], MAP_NAMES), prot = bitsName(t[o + 8], PROT_NAMES);
        const shmid = u64(t[o + 6], t[o + 7]);
        out[i] = { index: i, start: u64(t[o], t[o + 1]), end: u64(t[o + 2], t[o + 3]), pgoff: u64(t[o + 4], t[o + 5]), shmid, prot, flags, status, kind: vmaKind(status, flags, prot), name: '' };
        out[i].name = vmaName(out[i], files);
      }
      return out;
    }
    const mm = this.entries(`mm-${pid}.img`)[0];
    return (mm?.vmas ?? []).map((v: any, i: number) => {
      const status = String(v.status ?? ''), flags = String(v.flags ?? ''), prot = String(v.prot ?? '');
      const vma: Vma = { index: i, start: addr(v.start), end: addr(v.end), pgoff: addr(v.pgoff), shmid: num(v.shmid), prot, flags, status, kind: vmaKind(status, flags, prot), name: '' };
      vma.name = vmaName(vma, files);
      return vma;
    });
  }

  /**
   * Walk a process's pagemap rows without making PmEntry objects (what `tscr mem`'s map
   * needs on large memories): fn(vaddr, nr, flags, fileOff) per entry, in file order, the
   * same values as p.pm. False (and no calls) when the core's table is not available.
   */
  eachPagemapRow(pid: number, fn: (vaddr: number, nr: number, flags: number, fileOff: number) => void): boolean {
    const t = this.fast(`pagemap-${pid}.img`);
    if (!t) return false;
    const n = t[4];
    let off = 0;
    for (let i = 0; i < n; i++) {
      const o = 6 + 8 * i;
      const absent = t[o + 4] === 0xffffffff && t[o + 5] === 0xffffffff;
      const parent = t[o + 6] !== 0 || t[o + 7] !== 0;
      let flags = absent ? 0 : t[o + 4];
      if (parent) flags |= PE_PARENT;
      if (absent && !parent) flags |= PE_PRESENT; // pre-flags images: all present
      const nr = t[o + 3] > 0xfffff ? Number.MAX_SAFE_INTEGER : t[o + 3] * 4294967296 + t[o + 2];
      const inFile = (flags & PE_PRESENT) && !(flags & PE_PARENT);
      fn(t[o + 1] < 0x200000 ? t[o + 1] * 4294967296 + t[o] : u64(t[o], t[o + 1]), nr, flags, inFile ? off : -1);
      if (inFile) off += nr * PAGE;
    }
    return true;
  }

  private pagemapOf(pid: number): { pm: PmEntry[]; pagesId: number | null } {
    const t = this.fast(`pagemap-${pid}.img`);
    if (t) {
      const pm: PmEntry[] = new Array(t[4]);
      let i = 0;
      this.eachPagemapRow(pid, (vaddr, nr, flags, fileOff) => { pm[i] = { index: i + 1, vaddr, nr, flags, fileOff }; i++; });
      return { pm, pagesId: u64(t[2], t[3]) };
    }
    const pmImg = this.entries(`pagemap-${pid}.img`);
    const pm: PmEntry[] = new Array(Math.max(0, pmImg.length - 1));
    let off = 0;
    for (let i = 1; i < pmImg.length; i++) {
      const p = pmImg[i];
      let flags = flagBits(p.flags, PE_NAMES);
      if (p.in_parent) flags |= PE_PARENT;
      if (p.flags === undefined && !p.in_parent) flags |= PE_PRESENT; // pre-flags images: all present
      const nr = num(p.nr_pages) || num(p.compat_nr_pages);
      const inFile = (flags & PE_PRESENT) && !(flags & PE_PARENT);
      pm[i - 1] = { index: i, vaddr: addr(p.vaddr), nr, flags, fileOff: inFile ? off : -1 };
      if (inFile) off += nr * PAGE;
    }
    return { pm, pagesId: pmImg[0] ? num(pmImg[0].pages_id) : null };
  }

  /** Bytes queued per file id: TCP in/out queues, unix socket queues, pipe buffers. */
  queues(): Map<number, { in: number; out?: number }> {
    const q = new Map<number, { in: number; out?: number }>();
    const byIno = new Map<number, number>();
    const byPipe = new Map<number, number[]>();
    for (const e of this.entries('files.img')) {
      if (e.isk) byIno.set(num(e.isk.ino), num(e.id));
      if (e.pipe) { const k = num(e.pipe.pipe_id); if (!byPipe.has(k)) byPipe.set(k, []); byPipe.get(k)!.push(num(e.id)); }
    }
    for (const n of this.names) {
      const m = /^tcp-stream-([0-9a-f]+)\.img$/.exec(n);
      const id = m ? byIno.get(parseInt(m[1], 16)) : undefined;
      if (id === undefined) continue;
      const t = this.entries(n)[0];
      if (t) q.set(id, { in: num(t.inq_len), out: num(t.outq_len) });
    }
    for (const e of this.entries('sk-queues.img')) {
      const id = num(e.id_for);
      const cur = q.get(id) ?? { in: 0 };
      cur.in += num(e.length);
      q.set(id, cur);
    }
    for (const e of this.entries('pipes-data.img')) {
      for (const id of byPipe.get(num(e.pipe_id)) ?? []) q.set(id, { in: num(e.bytes) });
    }
    return q;
  }

  proc(pid: number): Proc {
    const p = this.procs().find((x) => x.pid === pid) ?? this.procs().find((x) => x.threads.includes(pid)); // a thread id names its process
    if (!p) throw new TscrError('E_NOT_FOUND', `pid ${pid} is not in this checkpoint`, { file: this.path('pstree.img'), pid, hint: `pids here: ${this.procs().map((x) => x.pid).join(', ') || 'none'}` });
    return p;
  }

  /** Read dst.length bytes at off of pages-N.img into dst (any Uint8Array view). Returns bytes read. */
  readPagesInto(pagesId: number, off: number, dst: Uint8Array): number {
    return this.src.readAt(`pages-${pagesId}.img`, off, dst);
  }

  close(): void { this.src.close(); }
}

/** Define keys of obj as computed on first read (all keys from one call of fn). */
function lazy(obj: any, keys: string[], fn: () => Record<string, unknown>) {
  let done: Record<string, unknown> | null = null;
  for (const k of keys) {
    Object.defineProperty(obj, k, {
      configurable: true, enumerable: true,
      get() { done ??= fn(); for (const kk of keys) Object.defineProperty(obj, kk, { value: done[kk], writable: true, enumerable: true, configurable: true }); return done[k]; },
      set(v) { Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true }); },
    });
  }
}

const PE_CACHE = new Map<string, number>();

export function describeMagic(f: Frames): string {
  return f.kind ?? `unknown (magic ${hex32(f.magic)})`;
}

/** Open a checkpoint: a directory of images (archives once the archive format lands). */
export function openCheckpoint(path: string): Checkpoint {
  return new Checkpoint(path);
}

