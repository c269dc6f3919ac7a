// Pipes and FIFOs. files.img: PIPE {id, pipe_id (inode), flags, fown}; FIFO
// {id, pipe_id, regf_id} plus the REG entry of its path. Queued bytes go to
// PIPES_DATA (FIFO_DATA for FIFOs) once per pipe: {pipe_id, bytes, size, extra}.
// Dump copies the bytes with tee(2), so the target's pipe is left untouched.
// Restore makes the pipe once per pipe_id, refills it, and gives each file id
// its own open file description (the original end, or a reopen through /proc).
import { writeSync } from 'node:fs';
import type { FdKind, DumpFdCtx, RestoreFdCtx } from './types.ts';
import { TscrError } from '../errors.ts';
import {
  O, F, FIONREAD, S_IFMT, S_IFIFO, FOWN, hex, num, critB64, fromB64, fds, ck, fileFlags, setFl, cachedOfd, closeFd,
  dumpShared, rfileFlagsStr, parseFlags,
} from './fdutil.ts';

const MAX_PIPE = 64 * 1024 * 1024;

function queued(ctx: DumpFdCtx): { bytes: number; size: number; data: Buffer } {
  const n = new Int32Array(1);
  ck(fds().ioctl_int(ctx.localFd, FIONREAD, n), 'ioctl(FIONREAD) on a pipe', { pid: ctx.pid, fd: ctx.fd });
  const size = ck(fds().fcntl(ctx.localFd, F.GETPIPE_SZ, 0), 'fcntl(F_GETPIPE_SZ)', { pid: ctx.pid, fd: ctx.fd });
  const bytes = n[0];
  if (bytes > MAX_PIPE) throw new TscrError('E_TOO_LARGE', `pipe fd ${ctx.fd} of pid ${ctx.pid} holds ${bytes} bytes`, { pid: ctx.pid, fd: ctx.fd });
  let data = Buffer.alloc(0);
  if (bytes > 0) {
    const buf = Buffer.alloc(bytes);
    const got = ck(fds().pipe_peek(ctx.localFd, buf, bytes), 'tee(2) of the pipe', { pid: ctx.pid, fd: ctx.fd });
    if (got !== bytes) throw new TscrError('E_DUMP', `pipe fd ${ctx.fd} of pid ${ctx.pid}: copied ${got} of ${bytes} queued bytes`, { pid: ctx.pid, fd: ctx.fd, hint: 'the pipe changed during the dump; dump again' });
    data = buf;
  }
  return { bytes, size, data };
}

function isFifo(ctx: DumpFdCtx) { return (ctx.stat.mode & S_IFMT) === S_IFIFO && !ctx.link.startsWith('pipe:['); }

export const pipe: FdKind = {
  kind: 'pipe',
  types: ['PIPE', 'FIFO'],
  match(ctx) { return ctx.link.startsWith('pipe:[') || (ctx.stat.mode & S_IFMT) === S_IFIFO; },
  dump(ctx) {
    const ino = Number(ctx.stat.ino);
    const flags = fileFlags(ctx);
    const fifo = isFifo(ctx);
    const { id, isNew } = ctx.fileId(`${fifo ? 'fifo' : 'pipe'}:${ino}`);
    if (!isNew) return null;
    const shared = dumpShared(ctx);
    const dataKey = `pipe:data:${ino}`;
    if (!shared.has(dataKey)) {
      shared.set(dataKey, true);
      const q = queued(ctx);
      if (q.bytes > 0) ctx.addEntry(fifo ? 'FIFO_DATA' : 'PIPES_DATA', { pipe_id: ino, bytes: q.bytes, size: q.size, extra: critB64(q.data) });
      else if (q.size !== 65536) ctx.addEntry(fifo ? 'FIFO_DATA' : 'PIPES_DATA', { pipe_id: ino, bytes: 0, size: q.size });
    }
    if (!fifo) return { type: 'PIPE', id, pipe: { id, pipe_id: ino, flags: hex(flags), fown: FOWN() } };
    // FIFO: the path is a REG entry of its own (regf_id), as CRIU writes it.
    const path = ctx.link.replace(/ \(deleted\)$/, '');
    const reg = ctx.fileId(`fifo-reg:${ino}`);
    if (reg.isNew) {
      ctx.addEntry('FILES', { type: 'REG', id: reg.id, reg: { id: reg.id, flags: rfileFlagsStr(flags), pos: 0, fown: FOWN(), name: path, mode: ctx.stat.mode } });
    }
    return { type: 'FIFO', id, fifo: { id, pipe_id: ino, regf_id: reg.id } };
  },
  async restore(ctx, file) {
    if (file.type === 'FIFO') return restoreFifo(ctx, file);
    const p = file.pipe;
    const pipeId = num(p.pipe_id);
    const flags = parseFlags(p.flags);
    const ends = await pipeEnds(ctx, pipeId, 'PIPES_DATA');
    const wr = (flags & O.ACCMODE) === O.WRONLY;
    return cachedOfd(ctx, `pipe:ofd:${num(file.id)}`, () => {
      const claimKey = `pipe:claimed:${pipeId}:${wr ? 'w' : 'r'}`;
      let fd: number;
      if (!ctx.shared.has(claimKey)) { ctx.shared.set(claimKey, true); fd = ck(fds().fcntl(wr ? ends.w : ends.r, F.DUPFD_CLOEXEC, 3), 'dup'); }
      else fd = ck(fds().reopen(wr ? ends.w : ends.r, wr ? O.WRONLY : O.RDONLY), 'reopening a pipe end through /proc/self/fd');
      setFl(fd, flags);
      return fd;
    });
  },
};

function pipeData(ctx: RestoreFdCtx, magic: string, pipeId: number): any | undefined {
  return (ctx.image(magic) ?? []).find((e: any) => num(e.pipe_id) === pipeId);
}

async function pipeEnds(ctx: RestoreFdCtx, pipeId: number, magic: string): Promise<{ r: number; w: number }> {
  const key = `pipe:ends:${pipeId}`;
  let ends = ctx.shared.get(key) as { r: number; w: number } | undefined;
  if (ends) return ends;
  const pair = new Int32Array(2);
  ck(fds().pipe2(pair, O.CLOEXEC), 'pipe2');
  ends = { r: pair[0], w: pair[1] };
  ctx.shared.set(key, ends);
  const e = ends;
  ctx.defer?.(() => { closeFd(e.r); closeFd(e.w); });
  await fillPipe(ctx, ends.w, pipeData(ctx, magic, pipeId), `pipe ${pipeId}`);
  return ends;
}

async function fillPipe(ctx: RestoreFdCtx, w: number, d: any, what: string) {
  if (!d) return;
  const data = fromB64(d.extra);
  const size = num(d.size);
  if (size && size !== 65536 || data.length > 65536) {
    const want = Math.max(size || 0, data.length);
    ck(fds().fcntl(w, F.SETPIPE_SZ, want), `fcntl(F_SETPIPE_SZ, ${want}) for ${what}`, { pid: ctx.pid, fd: ctx.fd });
  }
  if (data.length !== num(d.bytes)) throw new TscrError('E_CORRUPT', `${what}: the image says ${num(d.bytes)} bytes but holds ${data.length}`, { kind: 'PIPES_DATA' });
  let off = 0;
  while (off < data.length) off += writeSync(w, data, off, data.length - off);
}

async function restoreFifo(ctx: RestoreFdCtx, file: any): Promise<number> {
  const f = file.fifo;
  const pipeId = num(f.pipe_id);
  const reg = (ctx.image('FILES') ?? []).find((e: any) => e.type === 'REG' && num(e.id) === num(f.regf_id));
  if (!reg) throw new TscrError('E_INCONSISTENT', `FIFO ${num(file.id)} names REG file ${num(f.regf_id)}, which is not in files.img`, { kind: 'FILES' });
  const path: string = reg.reg.name;
  const flags = parseFlags(reg.reg.flags);
  // Hold the FIFO open read-write while the restore runs: opening either end never blocks then,
  // and the queued bytes stay in the pipe.
  const holdKey = `fifo:hold:${pipeId}`;
  let hold = ctx.shared.get(holdKey) as number | undefined;
  if (hold === undefined) {
    const { openSync } = await import('node:fs');
    try { hold = openSync(path, O.RDWR | O.NONBLOCK | O.CLOEXEC); } catch (e: any) {
      throw new TscrError('E_RESTORE', `cannot open FIFO ${path}: ${e.code ?? e.message}`, { pid: ctx.pid, fd: ctx.fd, hint: 'the FIFO must exist at the same path when restoring' });
    }
    ctx.shared.set(holdKey, hold);
    const h = hold;
    ctx.defer?.(() => closeFd(h));
    await fillPipe(ctx, hold, pipeData(ctx, 'FIFO_DATA', pipeId), `FIFO ${path}`);
  }
  const h = hold;
  return cachedOfd(ctx, `pipe:ofd:${num(file.id)}`, () => {
    const fd = ck(fds().reopen(h, (flags & O.ACCMODE) | O.NONBLOCK), `reopening FIFO ${path}`, { pid: ctx.pid, fd: ctx.fd });
    setFl(fd, flags);
    return fd;
  });
}

export default pipe;
