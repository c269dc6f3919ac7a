// Regular files, directories, /dev/null and other character devices, and files
// deleted while open (ghost files). files.img type REG; ghost contents go to
// ghost-file-N.img with a remap-fpath entry, as CRIU 4.2 writes them.
import { readSync, openSync, closeSync, fstatSync } from 'node:fs';
import type { FdKind, DumpFdCtx, FdStat } from './types.ts';
import { TscrError } from '../errors.ts';
import { isTtyDevice } from './fdutil.ts';

const O_CLOEXEC = 0o2000000;
const S_IFMT = 0o170000, S_IFREG = 0o100000, S_IFDIR = 0o040000, S_IFCHR = 0o020000;
/** Ghost files larger than this are refused (their content goes into the image). */
export const GHOST_LIMIT = 64 * 1024 * 1024;

const RFILE_FLAGS: [string, number][] = [
  ['O_WRONLY', 0o1], ['O_RDWR', 0o2], ['O_CREAT', 0o100], ['O_EXCL', 0o200], ['O_NOCTTY', 0o400], ['O_TRUNC', 0o1000],
  ['O_APPEND', 0o2000], ['O_NONBLOCK', 0o4000], ['O_DSYNC', 0o10000], ['FASYNC', 0o20000], ['O_DIRECT', 0o40000],
  ['O_LARGEFILE', 0o100000], ['O_DIRECTORY', 0o200000], ['O_NOFOLLOW', 0o400000], ['O_NOATIME', 0o1000000], ['O_CLOEXEC', 0o2000000],
];
/** crit's flags string for rfile.flags ("O_WRONLY | O_APPEND"). */
export function rfileFlags(v: number): string {
  return RFILE_FLAGS.filter(([, b]) => (v & b) === b).map(([n]) => n).join(' | ');
}

export function devString(dev: bigint): string {
  const d = BigInt(dev);
  const major = Number((d >> 8n) & 0xfffn) | Number((d >> 32n) & ~0xfffn);
  const minor = Number(d & 0xffn) | Number((d >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

const FOWN = () => ({ uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 });

export interface RegDesc {
  path: string;       // as /proc shows it, " (deleted)" removed
  deleted: boolean;
  stat: FdStat & { nlink?: number; atimeMs?: bigint; mtimeMs?: bigint; atimeNs?: bigint; mtimeNs?: bigint };
  flags: number;      // file status flags (O_CLOEXEC removed)
  pos: bigint;
  /** Reads the file's content (for ghost files). */
  readAll?: () => Buffer;
  /** ELF build-id of an executable file, as CRIU records it (20 bytes as 5 LE u32). */
  buildId?: number[];
}

/** The GNU build-id note of a 64-bit little-endian ELF file (null if none or not ELF). */
export function elfBuildId(path: string): number[] | null {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const h = Buffer.alloc(64);
    if (readSync(fd, h, 0, 64, 0) !== 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return null;
    const phoff = Number(h.readBigUInt64LE(32)), phentsize = h.readUInt16LE(54), phnum = h.readUInt16LE(56);
    if (phnum > 256 || phentsize < 56) return null;
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (ph.readUInt32LE(o) !== 4 /* PT_NOTE */) continue;
      const off = Number(ph.readBigUInt64LE(o + 8)), size = Math.min(Number(ph.readBigUInt64LE(o + 32)), 1 << 16);
      const n = Buffer.alloc(size);
      readSync(fd, n, 0, size, off);
      for (let p = 0; p + 12 <= size; ) {
        const namesz = n.readUInt32LE(p), descsz = n.readUInt32LE(p + 4), type = n.readUInt32LE(p + 8);
        const name = p + 12, desc = name + ((namesz + 3) & ~3);
        if (desc + descsz > size) break;
        if (type === 3 && namesz === 4 && n.toString('latin1', name, name + 3) === 'GNU' && descsz % 4 === 0) {
          const words: number[] = [];
          for (let k = 0; k < descsz; k += 4) words.push(n.readUInt32LE(desc + k));
          return words;
        }
        p = desc + ((descsz + 3) & ~3);
      }
    }
    return null;
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export interface RegCtx {
  pid: number;
  fd?: number;
  addEntry(magic: string, entry: any): number | void;
  fileId(key: string): { id: number; isNew: boolean };
}

/**
 * The files.img REG entry for one open file description (or file mapping),
 * plus its ghost file when it was deleted while open. Shared by fds, VMAs and exe.
 */
export function regEntry(c: RegCtx, id: number, d: RegDesc): any {
  const mode = d.stat.mode;
  const reg: any = { id, flags: rfileFlags(d.flags & ~O_CLOEXEC), pos: d.pos, fown: FOWN(), name: d.path };
  if ((mode & S_IFMT) === S_IFREG && d.stat.size > 0n) reg.size = d.stat.size;
  reg.mode = mode;
  if (d.buildId?.length) reg.build_id = d.buildId;
  // A character device node that was unlinked is still the same device: reopen it by path.
  if (d.deleted && (d.stat.nlink ?? 0) === 0 && (mode & S_IFMT) !== S_IFCHR) {
    if ((mode & S_IFMT) !== S_IFREG) {
      throw new TscrError('E_UNSUPPORTED', `unsupported: deleted non-regular file ${d.path} open in pid ${c.pid}`, { pid: c.pid, fd: c.fd });
    }
    if (d.stat.size > BigInt(GHOST_LIMIT)) {
      throw new TscrError('E_UNSUPPORTED', `unsupported: deleted file ${d.path} (${d.stat.size} bytes) is larger than the ghost-file limit of ${GHOST_LIMIT} bytes (pid ${c.pid})`, { pid: c.pid, fd: c.fd, hint: 'keep a link to the file (do not unlink it) while dumping' });
    }
    const content = d.readAll ? d.readAll() : Buffer.alloc(0);
    const tv = (ns: bigint | undefined) => ({ tv_sec: Number((ns ?? 0n) / 1000000000n), tv_usec: Number(((ns ?? 0n) % 1000000000n) / 1000n) });
    const ghostNo = c.addEntry('GHOST_FILE', {
      uid: d.stat.uid, gid: d.stat.gid, mode, dev: devString(d.stat.dev), ino: d.stat.ino,
      atim: tv(d.stat.atimeNs), mtim: tv(d.stat.mtimeNs),
      extra: content.toString('base64'),
    });
    c.addEntry('REMAP_FPATH', { orig_id: id, remap_id: Number(ghostNo), remap_type: 'GHOST' });
  }
  return { type: 'REG', id, reg };
}

/** Read a whole file from an fd we own (pread from 0). */
export function readWhole(fd: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, b, off, size - off, off);
    if (n <= 0) break;
    off += n;
  }
  return b.subarray(0, off);
}

/** Describe a path-like object through a /proc link we can open (fd link, map_files, exe, cwd). */
export function describeProcLink(procPath: string, link: string, flags: number, pos: bigint): RegDesc {
  const deleted = link.endsWith(' (deleted)');
  const st = fstatOf(procPath);
  return {
    path: deleted ? link.slice(0, -10) : link, deleted, stat: st, flags, pos,
    readAll: () => {
      const fd = openSync(procPath, 'r');
      try { return readWhole(fd, Number(st.size)); } finally { closeSync(fd); }
    },
  };
}

function fstatOf(procPath: string) {
  const fd = openSync(procPath, 0o10000000 /* O_PATH */);
  try { return toStat(fstatSync(fd, { bigint: true })); } finally { closeSync(fd); }
}

export function toStat(s: any) {
  return {
    mode: Number(s.mode), dev: BigInt(s.dev), ino: BigInt(s.ino), rdev: BigInt(s.rdev), size: BigInt(s.size),
    uid: Number(s.uid), gid: Number(s.gid), nlink: Number(s.nlink), atimeNs: BigInt(s.atimeNs ?? 0n), mtimeNs: BigInt(s.mtimeNs ?? 0n),
  };
}

const regfile: FdKind = {
  kind: 'regular file',
  types: ['REG'],
  match(ctx: DumpFdCtx) {
    if (!ctx.link.startsWith('/') || ctx.link.startsWith('/memfd:')) return false;
    const t = ctx.stat.mode & S_IFMT;
    if (t === S_IFCHR) {
      return !isTtyDevice(ctx.link, ctx.stat.mode, ctx.stat.rdev) || Boolean(ctx.opts['shell-job'] ?? ctx.opts.shellJob);
    }
    return t === S_IFREG || t === S_IFDIR;
  },
  dump(ctx: DumpFdCtx) {
    const deleted = ctx.link.endsWith(' (deleted)');
    const { id, isNew } = ctx.fileId(`reg:${ctx.stat.dev}:${ctx.stat.ino}`);
    if (!isNew) return null;
    const st = toStat(fstatSync(ctx.localFd, { bigint: true }));
    const d: RegDesc = {
      path: deleted ? ctx.link.slice(0, -10) : ctx.link, deleted, stat: st, flags: ctx.info.flags, pos: ctx.info.pos,
      readAll: () => readWhole(ctx.localFd, Number(st.size)),
    };
    return regEntry({ pid: ctx.pid, fd: ctx.fd, addEntry: ctx.addEntry as any, fileId: ctx.fileId }, id, d);
  },
  restore() {
    throw new TscrError('E_INTERNAL', 'regfile restore is implemented by the restore engine');
  },
};
export default regfile;
