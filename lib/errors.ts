// Typed errors. Every failure a user can see is a TscrError with a code, a plain
// message, and where known the file/offset/image kind or the pid/fd it concerns,
// plus a hint saying what to do about it. The CLI prints these; nothing else
// should reach the user as a stack trace.

export type ErrorCode =
  | 'E_USAGE'        // bad command line
  | 'E_IO'           // a file could not be read or written
  | 'E_NOT_FOUND'    // a file, pid or image that should exist does not
  | 'E_TRUNCATED'    // input ends before a length it announced
  | 'E_BAD_MAGIC'    // not a CRIU image / unknown magic
  | 'E_BAD_VARINT'   // malformed protobuf varint
  | 'E_BAD_LENGTH'   // a length runs past its container
  | 'E_BAD_WIRE'     // protobuf wire type does not fit the schema
  | 'E_TOO_LARGE'    // an absurd claimed size
  | 'E_BAD_JSON'     // JSON input of the wrong shape or type
  | 'E_CORRUPT'      // checksum/hash mismatch, inconsistent archive
  | 'E_INCONSISTENT' // images disagree with each other (validate)
  | 'E_UNSUPPORTED'  // an object kind tscr cannot dump or restore
  | 'E_NO_SHIM'      // a Linux-only command on a host without the native shim
  | 'E_KERNEL'       // a syscall failed
  | 'E_PTRACE'       // ptrace failed
  | 'E_DUMP'         // dump failed (target left running as it was)
  | 'E_RESTORE'      // restore failed (everything created was killed)
  | 'E_INTERNAL';    // a bug in tscr

export interface ErrorWhere {
  file?: string;
  offset?: number;
  kind?: string;   // image kind, e.g. "PAGEMAP", or object kind, e.g. "pipe"
  pid?: number;
  fd?: number;
  errno?: number;
  hint?: string;   // what the user can do about it
}

export class TscrError extends Error {
  readonly code: ErrorCode;
  readonly where: ErrorWhere;
  constructor(code: ErrorCode, message: string, where: ErrorWhere = {}) {
    super(message);
    this.name = 'TscrError';
    this.code = code;
    this.where = where;
  }

  /** One or two lines for people: message, then location, then hint. */
  describe(): string {
    const w = this.where;
    const loc: string[] = [];
    if (w.file !== undefined) loc.push(`file ${w.file}`);
    if (w.kind !== undefined) loc.push(`image ${w.kind}`);
    if (w.offset !== undefined) loc.push(`offset ${w.offset}`);
    if (w.pid !== undefined) loc.push(`pid ${w.pid}`);
    if (w.fd !== undefined) loc.push(`fd ${w.fd}`);
    let s = this.message + (loc.length ? ` (${loc.join(', ')})` : '');
    if (w.hint) s += `\n  hint: ${w.hint}`;
    return s;
  }

  toJSON(): object {
    return { error: this.code, message: this.message, ...this.where };
  }
}

export function isTscrError(e: unknown): e is TscrError {
  return e instanceof TscrError;
}

/** The one bounds check for every read from untrusted bytes. */
export function assertBounds(offset: number, need: number, total: number, where: ErrorWhere): void {
  if (!(offset >= 0 && need >= 0 && offset + need <= total)) {
    throw new TscrError('E_TRUNCATED',
      `input ends early: needed ${need} bytes at offset ${offset}, but only ${Math.max(0, total - offset)} remain`,
      { ...where, offset });
  }
}
