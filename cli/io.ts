// Input/output helpers for the crit-compatible commands: `-` (or no option) means
// stdin/stdout; files are read and written synchronously.
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { TscrError } from '../lib/errors.ts';

export function isStd(p: unknown): boolean {
  return p === undefined || p === null || p === '' || p === '-';
}

export function readInput(p: string | undefined, what: string): Uint8Array {
  if (isStd(p) && process.stdin.isTTY) {
    throw new TscrError('E_USAGE', `no ${what} given: stdin is a terminal`, { hint: `name the ${what} with -i FILE, or pipe it in` });
  }
  try {
    return isStd(p) ? readStdin() : readFileSync(p!);
  } catch (e: any) {
    const name = isStd(p) ? 'stdin' : p!;
    throw new TscrError(e?.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `cannot read ${what} ${name}: ${e?.code ?? e?.message ?? e}`,
      { file: name, hint: e?.code === 'ENOENT' ? 'check the path' : undefined });
  }
}

/** All of stdin, also when it is a non-blocking pipe (readFileSync(0) then fails with EAGAIN). */
function readStdin(): Uint8Array {
  const parts: Buffer[] = [];
  let buf = Buffer.allocUnsafe(1 << 16);
  for (;;) {
    let n: number;
    try { n = readSync(0, buf, 0, buf.length, null); } catch (e: any) {
      if (e?.code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2); continue; }
      if (e?.code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    parts.push(buf.subarray(0, n));
    if (n === buf.length) buf = Buffer.allocUnsafe(Math.min(buf.length * 2, 1 << 24)); else buf = buf.subarray(n);
  }
  return Buffer.concat(parts);
}

/**
 * A sink writing to a file (created, or replaced) or to the context's stdout. An
 * existing regular file is overwritten from its start and cut to the written length
 * at close(): the same file O_TRUNC gives, without first freeing all its page-cache
 * pages and then allocating new ones (for tens of MB of JSON, that was a third of the
 * command's time). A failed command removes the file either way (discard()).
 * `input` (the file the command reads) must not be the output: writing over it while
 * it is read would destroy it.
 */
export interface Output { write(b: Uint8Array | string): void; close(): void; discard(): void; isStdout: boolean }
export function openOutput(p: string | undefined, toStdout: (b: Uint8Array) => void, input?: string): Output {
  if (isStd(p)) {
    return { write: (b) => toStdout(typeof b === 'string' ? Buffer.from(b, 'latin1') : b), close() {}, discard() {}, isStdout: true };
  }
  if (input !== undefined && !isStd(input)) {
    const stat = (f: string) => { try { return statSync(f, { throwIfNoEntry: false }); } catch { return undefined; } };
    const si = stat(input);
    const so = si && stat(p!);
    if (si && so && si.dev === so.dev && si.ino === so.ino) {
      throw new TscrError('E_USAGE', `the output ${p} is the input file`, { file: p, hint: 'write to another file (-o OTHER), then rename it if you like' });
    }
  }
  let fd: number;
  try { fd = openSync(p!, constants.O_WRONLY | constants.O_CREAT, 0o644); } catch (e: any) {
    throw new TscrError('E_IO', `cannot create ${p}: ${e?.code ?? e?.message ?? e}`, { file: p, hint: 'check that the directory exists and is writable' });
  }
  // a device or FIFO (-o /dev/null) has no length to cut, as with O_TRUNC
  const regular = fstatSync(fd).isFile();
  let written = 0;
  const ioError = (e: any, what: string) => new TscrError('E_IO', `cannot ${what} ${p}: ${e?.code ?? e?.message ?? e}`,
    { file: p, offset: written, hint: e?.code === 'ENOSPC' ? 'the disk is full' : undefined });
  return {
    write(b) {
      const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
      let off = 0;
      try {
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      } catch (e) { throw ioError(e, 'write'); } finally { written += off; }
    },
    close() {
      try {
        if (regular) ftruncateSync(fd, written);
      } catch (e) { throw ioError(e, 'write'); } finally { closeSync(fd); }
    },
    /** close and remove a half-written file after an error */
    discard() { try { closeSync(fd); } catch { /* closed */ } try { unlinkSync(p!); } catch { /* gone */ } },
    isStdout: false,
  };
}
