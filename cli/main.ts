// tscr command line. Each command's run() gets a Ctx and returns an exit code.
// Errors are printed once, here, in plain words.
// Start-up matters (one small decode must take <= 60 ms wall): the crit-style
// commands (decode/encode/info/show) are parsed by a tiny fast path without
// evaluating yargs or the other commands; everything else loads yargs and the
// command list lazily via dynamic import().
// Global options: --json, -v/--verbose, --log-file (long form only: `-o` is
// crit's --out for decode/encode; commands like dump/restore may define -o).
import { makeCtx, type Command } from './context.ts';
import { TscrError } from '../lib/errors.ts';

type Io = { stdout?: (s: string) => void; stderr?: (s: string) => void; stdoutBytes?: (b: Uint8Array) => void };

const FAST: Record<string, { load: () => Promise<{ default: Command }>; opts: Record<string, 'string' | 'boolean'>; positional?: string; short?: Record<string, string>; prewarm?: () => void }> = {
  decode: { load: () => import('./commands/decode.ts'), opts: { in: 'string', out: 'string', pretty: 'boolean' } },
  encode: { load: () => import('./commands/encode.ts'), opts: { in: 'string', out: 'string' } },
  info: { load: () => import('./commands/info.ts'), opts: { in: 'string' }, positional: 'file' },
  show: { load: () => import('./commands/show.ts'), opts: { in: 'string', nopl: 'boolean' }, positional: 'file' },
  // dump: start-up overhead counts (target <= 0.3 s for a small process)
  dump: {
    load: () => import('./commands/dump.ts'),
    opts: { tree: 'string', 'images-dir': 'string', 'leave-running': 'boolean', 'shell-job': 'boolean', 'tcp-established': 'boolean', 'ext-unix-sk': 'boolean', sync: 'boolean' },
    short: { t: 'tree', D: 'images-dir', R: 'leave-running', o: 'log-file', v: 'verbose' },
    // start the tracer thread while the command loads (lib/tracer.ts prewarmTracer)
    prewarm: () => { import('../lib/tracer.ts').then((m) => m.prewarmTracer(), () => {}); },
  },
};
const SHORT: Record<string, string> = { i: 'in', o: 'out', v: 'verbose' };

/** Parse a simple crit-style command line; null means "let yargs handle it" (help, odd forms). */
function fastParse(argv: string[]): Record<string, any> | null {
  const spec = FAST[argv[0]];
  if (!spec) return null;
  const args: Record<string, any> = { _: [argv[0]], verbose: 0 };
  let positional = 0;
  for (let i = 1; i < argv.length; i++) {
    let a = argv[i];
    let val: string | undefined;
    if (a === '-' || !a.startsWith('-')) {
      if (!spec.positional || positional++ > 0) return null;
      args[spec.positional] = a;
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
      a = a.slice(2);
    } else {
      const short = spec.short ?? SHORT;
      if (a.length !== 2 || !short[a[1]]) return null;
      a = short[a[1]];
    }
    if (a === 'verbose' && val === undefined) { args.verbose++; continue; }
    if (a === 'json' && val === undefined) { args.json = true; continue; }
    if (a === 'log-file') { const v = val ?? argv[++i]; if (v === undefined) return null; args['log-file'] = v; continue; }
    const t = spec.opts[a];
    if (!t) return null;
    if (t === 'boolean') { if (val !== undefined) return null; args[a] = true; continue; }
    const v = val ?? argv[++i];
    if (v === undefined) return null;
    args[a] = v;
  }
  return args;
}

function reporter(io: Io) {
  const stderr = io.stderr ?? ((s: string) => { process.stderr.write(s); });
  return (e: unknown, json: boolean) => {
    // The reader of our output went away (`tscr decode ... | head`): not an error.
    if ((e as NodeJS.ErrnoException)?.code === 'EPIPE') return 0;
    if (e instanceof TscrError) {
      if (json) (io.stdout ?? ((s: string) => process.stdout.write(s)))(JSON.stringify(e.toJSON()) + '\n');
      stderr(`tscr: ${e.describe()}\n`);
      return e.code === 'E_USAGE' ? 2 : 1;
    }
    const err = e as Error;
    stderr(`tscr: internal error: ${err?.stack ?? String(e)}\n  hint: this is a bug in tscr; please report it with the command line you ran\n`);
    return 70;
  };
}

export async function main(argv: string[], io: Io = {}): Promise<number> {
  const report = reporter(io);
  const fast = fastParse(argv);
  if (fast) {
    try {
      FAST[argv[0]].prewarm?.();
      const c = (await FAST[argv[0]].load()).default;
      const ctx = makeCtx({ json: fast.json, verbosity: fast.verbose, logFile: fast['log-file'], stdout: io.stdout, stdoutBytes: io.stdoutBytes, stderr: io.stderr });
      const rc = await c.run(fast, ctx);
      return typeof rc === 'number' ? rc : 0;
    } catch (e) {
      return report(e, argv.includes('--json'));
    }
  }
  let exitCode = 0;
  try {
    const [{ default: yargs }, { commands }] = await Promise.all([import('yargs'), import('./commands/index.ts')]);
    const y = yargs(argv)
      .scriptName('tscr')
      .usage('$0 <command> [options]')
      .option('json', { type: 'boolean', describe: 'machine-readable output', global: true })
      .option('verbose', { alias: 'v', type: 'count', describe: 'more log output (repeat for more)', global: true })
      .option('log-file', { type: 'string', describe: 'write the log to this file', global: true })
      .strict()
      .demandCommand(1, 'name a command; `tscr --help` lists them')
      .recommendCommands()
      .help()
      .alias('h', 'help')
      .version(false)
      .wrap(Math.min(100, process.stdout.columns || 100))
      .fail((msg: string, err: Error) => {
        if (err) throw err;
        throw new TscrError('E_USAGE', msg, { hint: 'see `tscr --help`' });
      });
    for (const c of commands as Command[]) {
      y.command(c.command, c.describe, c.builder ?? ((b: any) => b), async (args: any) => {
        const ctx = makeCtx({ json: args.json, verbosity: args.verbose, logFile: args['log-file'], stdout: io.stdout, stdoutBytes: io.stdoutBytes, stderr: io.stderr });
        const rc = await c.run(args, ctx);
        exitCode = typeof rc === 'number' ? rc : 0;
      });
    }
    await y.parseAsync();
  } catch (e) {
    exitCode = report(e, argv.includes('--json'));
  }
  return exitCode;
}

const isMain = (() => {
  const entry = process.argv[1] ?? '';
  return /(?:^|[\\/])(tscr(\.js)?|main\.ts)$/.test(entry) || entry.endsWith('/bin/tscr.js');
})();
if (isMain) {
  // A reader that goes away (`tscr mem ... | head`) is not an error: stop quietly,
  // as other Unix tools do, instead of printing an EPIPE stack.
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });
  }
  main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; });
}
