// tscr command line. Each command's run() gets a Ctx and returns an exit code.
// Errors are printed once, here, in plain words.
// Start-up matters: from the shell, the offline commands run through their own
// dist/fast-<name>.cjs bundles (cli/fast.ts); here, a plain command line of any
// command is parsed from that command's own yargs definition (cli/argspec.ts)
// without evaluating yargs, which is loaded lazily for everything else.
// Global options: --json, -v/--verbose, --log-file (long form only: `-o` is
// crit's --out for decode/encode; commands like dump/restore may define -o).
import { makeCtx, type Command } from './context.ts';
import { TscrError } from '../lib/errors.ts';
import { argSpec, parseArgs } from './argspec.ts';

type Io = { stdout?: (s: string) => void; stderr?: (s: string) => void; stdoutBytes?: (b: Uint8Array) => void };

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
  // Quick path: a plain command line of a known command is parsed from that command's
  // own yargs definition (cli/argspec.ts), without evaluating yargs; anything else
  // (help, odd forms, errors) goes to yargs below.
  let commands: Command[];
  try {
    commands = (await import('./commands/index.ts')).commands;
    const cmd = argv.length && !argv[0].startsWith('-') ? commands.find((c) => c.command.split(/\s+/)[0] === argv[0]) : undefined;
    const spec = cmd ? argSpec(cmd) : null;
    const fast = spec ? parseArgs(spec, argv) : null;
    if (cmd && fast) {
      cmd.prewarm?.();
      const ctx = makeCtx({ json: fast.json, verbosity: fast.verbose, logFile: fast['log-file'], stdout: io.stdout, stdoutBytes: io.stdoutBytes, stderr: io.stderr });
      const rc = await cmd.run(fast, ctx);
      return typeof rc === 'number' ? rc : 0;
    }
  } catch (e) {
    return report(e, argv.includes('--json'));
  }
  let exitCode = 0;
  try {
    const { default: yargs } = await import('yargs');
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
