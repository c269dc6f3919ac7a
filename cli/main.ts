// tscr command line. yargs parses; each command's run() gets a Ctx and returns
// an exit code. Errors are printed once, here, in plain words.
import yargs from 'yargs';
import { commands } from './commands/index.ts';
import { makeCtx, type Command } from './context.ts';
import { TscrError } from '../lib/errors.ts';

export async function main(argv: string[], io: { stdout?: (s: string) => void; stderr?: (s: string) => void } = {}): Promise<number> {
  let exitCode = 0;
  const stderr = io.stderr ?? ((s: string) => { process.stderr.write(s); });
  const report = (e: unknown, json: boolean) => {
    if (e instanceof TscrError) {
      if (json) (io.stdout ?? ((s: string) => process.stdout.write(s)))(JSON.stringify(e.toJSON()) + '\n');
      stderr(`tscr: ${e.describe()}\n`);
      return e.code === 'E_USAGE' ? 2 : 1;
    }
    const err = e as Error;
    stderr(`tscr: internal error: ${err?.stack ?? String(e)}\n  hint: this is a bug in tscr; please report it with the command line you ran\n`);
    return 70;
  };
  const y = yargs(argv)
    .scriptName('tscr')
    .usage('$0 <command> [options]')
    .option('json', { type: 'boolean', describe: 'machine-readable output', global: true })
    .option('verbose', { alias: 'v', type: 'count', describe: 'more log output (repeat for more)', global: true })
    .option('log-file', { alias: 'o', type: 'string', describe: 'write the log to this file', global: true })
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
      const ctx = makeCtx({ json: args.json, verbosity: args.verbose, logFile: args['log-file'], stdout: io.stdout, stderr: io.stderr });
      const rc = await c.run(args, ctx);
      exitCode = typeof rc === 'number' ? rc : 0;
    });
  }
  try {
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
  main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; });
}
