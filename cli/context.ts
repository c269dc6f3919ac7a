// The context every command handler gets. Handlers print only through it and
// return an exit code; they never call process.exit. Progress goes to stderr,
// and only when stderr is a terminal (quiet when piped) and --json is off.
import { TscrError } from '../lib/errors.ts';

export interface Progress {
  /** Update the progress line: done/total units (bytes, pages, processes). */
  update(done: number, total?: number, note?: string): void;
  /** Clear the line. */
  end(): void;
}

export interface Ctx {
  /** Write to stdout (a newline is not added). */
  out(text: string): void;
  /** Write bytes to stdout (binary output, e.g. `tscr encode`); the view may be reused after the call. */
  outBytes(bytes: Uint8Array): void;
  /** Write a line to stderr. */
  err(text: string): void;
  /** Print a JSON value to stdout, one document. */
  json(value: unknown): void;
  /** Verbose log (-v), to stderr or --log-file. */
  log(level: 1 | 2 | 3 | 4, text: string): void;
  readonly jsonMode: boolean;
  readonly verbosity: number;
  readonly isTTY: boolean;
  progress(label: string, unit?: 'bytes' | 'items'): Progress;
}

export interface CtxOptions {
  json?: boolean;
  verbosity?: number;
  logFile?: string;
  stdout?: (s: string) => void;
  stdoutBytes?: (b: Uint8Array) => void;
  stderr?: (s: string) => void;
  isTTY?: boolean;
}

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

export function makeCtx(o: CtxOptions = {}): Ctx {
  const stdout = o.stdout ?? ((s: string) => { process.stdout.write(s); });
  const stderr = o.stderr ?? ((s: string) => { process.stderr.write(s); });
  // looked up when first needed: creating the stderr stream costs start-up time
  let tty = o.isTTY;
  const isTTY = () => (tty ??= stderrIsTTY());
  const verbosity = o.verbosity ?? 0;
  let logSink: ((s: string) => void) | null = null;
  if (o.logFile) {
    // Opened lazily and appended synchronously so a crash still leaves the log.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const fs = process.getBuiltinModule ? (process as any).getBuiltinModule('node:fs') : null;
    const path = o.logFile;
    logSink = (s) => { (fs ?? require('node:fs')).appendFileSync(path, s); };
  }
  const stdoutBytes = o.stdoutBytes ?? (o.stdout ? ((b: Uint8Array) => o.stdout!(Buffer.from(b).toString('latin1'))) : writeAllSync1);
  return {
    out: stdout,
    outBytes: stdoutBytes,
    err: (s) => stderr(s.endsWith('\n') ? s : s + '\n'),
    json: (v) => stdout(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 2) + '\n'),
    log(level, text) {
      const line = `(${(performance.now() / 1000).toFixed(3)}) ${text}\n`;
      if (logSink) logSink(line);
      else if (level <= verbosity) stderr(line);
    },
    jsonMode: Boolean(o.json),
    verbosity,
    get isTTY() { return isTTY(); },
    progress(label, unit = 'bytes') {
      const show = !o.json && isTTY();
      let last = 0;
      const t0 = performance.now();
      return {
        update(done, total, note) {
          if (!show) return;
          const now = performance.now();
          if (now - last < 100 && total !== undefined && done < total) return;
          last = now;
          const rate = unit === 'bytes' ? ` ${human(done / Math.max(1e-3, (now - t0) / 1000))}/s` : '';
          const amount = unit === 'bytes'
            ? `${human(done)}${total !== undefined ? ' / ' + human(total) : ''}`
            : `${done}${total !== undefined ? '/' + total : ''}`;
          const pct = total ? ` ${Math.floor((100 * done) / total)}%` : '';
          stderr(`\r\x1b[2K${label}:${pct} ${amount}${rate}${note ? ' ' + note : ''}`);
        },
        end() { if (show) stderr('\r\x1b[2K'); },
      };
    },
  };
}

/** Whether stderr is a terminal, without creating process.stderr when it plainly is not (that loads the stream modules). */
function stderrIsTTY(): boolean {
  try {
    const st = (process as any).getBuiltinModule('node:fs').fstatSync(2);
    if (!st.isCharacterDevice() || st.rdev === 0x103 /* /dev/null */) return false;
  } catch { return false; }
  return Boolean(process.stderr.isTTY);
}

/** Synchronous write of all bytes to fd 1 (retries when stdout is a non-blocking pipe). */
function writeAllSync1(b: Uint8Array): void { writeAllSync(1, b); }

/** Synchronous write of all bytes to fd (retries when it is a non-blocking pipe). */
export function writeAllSync(fd: number, b: Uint8Array): void {
  const fs = (process as any).getBuiltinModule('node:fs');
  let off = 0;
  while (off < b.length) {
    try { off += fs.writeSync(fd, b, off, b.length - off); } catch (e: any) {
      if (e?.code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** A command module: one per file in cli/commands, listed in cli/commands/index.ts. */
export interface Command<A = any> {
  command: string;             // yargs command string, e.g. 'decode'
  describe: string;
  builder?: (y: any) => any;   // yargs builder
  /** Linux-only commands that need the native shim set this; offline ones must not load it. */
  needsShim?: boolean;
  /** Optional: start slow set-up (e.g. the tracer thread) as soon as the command is chosen. */
  prewarm?(): void;
  run(args: A, ctx: Ctx): Promise<number | void> | number | void;
}

export function usage(message: string, hint?: string): TscrError {
  return new TscrError('E_USAGE', message, { hint });
}
