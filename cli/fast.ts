// Entry of dist/fast.js: the crit-style commands (decode/encode/info/show) in one
// self-contained bundle, so their start-up loads two modules (bin + this) instead of
// the CLI's chunks. bin/tscr.js uses it for those commands; anything it cannot parse
// simply (help, odd forms) falls through to the full CLI (dist/tscr.js).
import { makeCtx, type Command } from './context.ts';
import { TscrError } from '../lib/errors.ts';
import decode from './commands/decode.ts';
import encode from './commands/encode.ts';
import info from './commands/info.ts';
import show from './commands/show.ts';

const SPECS: Record<string, { cmd: Command; opts: Record<string, 'string' | 'boolean'>; positional?: string }> = {
  decode: { cmd: decode, opts: { in: 'string', out: 'string', pretty: 'boolean' } },
  encode: { cmd: encode, opts: { in: 'string', out: 'string' } },
  info: { cmd: info, opts: { in: 'string' }, positional: 'file' },
  show: { cmd: show, opts: { in: 'string', nopl: 'boolean' }, positional: 'file' },
};
const SHORT: Record<string, string> = { i: 'in', o: 'out', v: 'verbose' };

function parse(argv: string[]): Record<string, any> | null {
  const spec = SPECS[argv[0]];
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
      if (a.length !== 2 || !SHORT[a[1]]) return null;
      a = SHORT[a[1]];
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

/** Run a crit-style command line; null when it needs the full CLI. Prints errors like cli/main.ts. */
export async function runFast(argv: string[]): Promise<number | null> {
  const args = parse(argv);
  if (!args) return null;
  try {
    const ctx = makeCtx({ json: args.json, verbosity: args.verbose, logFile: args['log-file'] });
    const rc = await SPECS[argv[0]].cmd.run(args, ctx);
    return typeof rc === 'number' ? rc : 0;
  } catch (e) {
    if (e instanceof TscrError) {
      if (args.json) process.stdout.write(JSON.stringify(e.toJSON()) + '\n');
      process.stderr.write(`tscr: ${e.describe()}\n`);
      return e.code === 'E_USAGE' ? 2 : 1;
    }
    process.stderr.write(`tscr: internal error: ${(e as Error)?.stack ?? String(e)}\n  hint: this is a bug in tscr; please report it with the command line you ran\n`);
    return 70;
  }
}
