// The offline commands' fast start-up path. scripts/build.mjs bundles every command of
// the one command list (cli/commands/index.ts) that does not need the native shim into
// its own self-contained CommonJS file, dist/fast-<name>.cjs (the command + this
// runner + the libraries it uses; no yargs, no other commands, no ES module loader).
// bin/tscr.js runs `tscr <name> ...` through that file when it exists. The command
// line is parsed from the command's own yargs definition (cli/argspec.ts); anything
// that parser leaves to yargs (help, odd forms, errors) returns null and the launcher
// runs the full CLI (dist/tscr.js) on the same command line.
import { makeCtx, writeAllSync, type Command } from './context.ts';
import { TscrError } from '../lib/errors.ts';
import { argSpec, parseArgs } from './argspec.ts';

/** Run one command from argv (argv[0] is its name); null when the full CLI must parse it. */
export async function runFast(cmd: Command, argv: string[]): Promise<number | null> {
  const spec = argSpec(cmd);
  const args = spec && spec.name === argv[0] ? parseArgs(spec, argv) : null;
  if (!args) return null;
  // Output goes straight to fd 1 with synchronous writes (what process.stdout does on
  // Linux for files, pipes and terminals), without creating the stdout/stderr streams:
  // that costs start-up time. Text is gathered into large writes (a command printing a
  // line at a time would otherwise make a syscall per line) and flushed before anything
  // goes to stderr, so the two stay in order. A reader that goes away (`tscr mem ... |
  // head`) is not an error: EPIPE ends the command quietly, as in cli/main.ts.
  let pending: string[] = [];
  let pendingLen = 0;
  const flush = () => {
    if (!pendingLen) return;
    const text = pending.join('');
    pending = []; pendingLen = 0;
    writeAllSync(1, Buffer.from(text));
  };
  const out = (s: string) => { pending.push(s); pendingLen += s.length; if (pendingLen >= 1 << 16) flush(); };
  const outBytes = (b: Uint8Array) => { flush(); writeAllSync(1, b); };
  const err = (s: string) => { flush(); process.stderr.write(s); };
  try {
    const ctx = makeCtx({ json: args.json, verbosity: args.verbose, logFile: args['log-file'], stdout: out, stdoutBytes: outBytes, stderr: err });
    const rc = await cmd.run(args, ctx);
    flush();
    return typeof rc === 'number' ? rc : 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'EPIPE') return 0;
    try { flush(); } catch (e2) { if ((e2 as NodeJS.ErrnoException)?.code === 'EPIPE') return 0; throw e2; }
    if (e instanceof TscrError) {
      if (args.json) writeAllSync(1, Buffer.from(JSON.stringify(e.toJSON()) + '\n'));
      process.stderr.write(`tscr: ${e.describe()}\n`);
      return e.code === 'E_USAGE' ? 2 : 1;
    }
    process.stderr.write(`tscr: internal error: ${(e as Error)?.stack ?? String(e)}\n  hint: this is a bug in tscr; please report it with the command line you ran\n`);
    return 70;
  }
}
