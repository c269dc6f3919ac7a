// A yargs-free parser for the simple command lines of the commands' own yargs
// definitions. Start-up matters for the offline commands (they must beat crit,
// a Python program, on the same work), and evaluating yargs costs more than the
// work itself for a small image. So the fast path records what a command's
// `command` string and `builder` declare (positionals, options, aliases, types,
// defaults, choices) and parses the common forms itself. Whatever it does not
// understand exactly as yargs would (help, counts, arrays, unknown options, bad
// choices, missing positionals) makes it return null, and the caller hands the
// whole command line to the full yargs CLI. There is no second list of options:
// the spec comes from the same builder yargs runs.
import type { Command } from './context.ts';

export interface OptSpec { type: 'string' | 'boolean' | 'number' | 'other'; default?: unknown; choices?: unknown[]; names: string[] }
export interface ArgSpec {
  name: string;
  positionals: { name: string; required: boolean; type: OptSpec['type']; choices?: unknown[] }[];
  opts: Map<string, OptSpec>; // every name and alias (long or short) -> its spec
  list: OptSpec[];
  logFileAliases: string[];   // extra names of the global --log-file (dump/restore: CRIU's -o)
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * What a command's yargs definition declares, or null when it uses something the fast
 * parser does not model (then the command always goes through yargs).
 */
export function argSpec(cmd: Command): ArgSpec | null {
  const words = cmd.command.trim().split(/\s+/);
  const spec: ArgSpec = { name: words[0], positionals: [], opts: new Map(), list: [], logFileAliases: [] };
  for (const w of words.slice(1)) {
    const m = /^([<[])([a-z][\w-]*)[>\]]$/.exec(w);
    if (!m) return null; // variadic or odd forms
    spec.positionals.push({ name: m[2], required: m[1] === '<', type: 'string' });
  }
  let ok = true;
  const add = (name: string, o: any) => {
    if (o.demandOption || o.conflicts || o.implies || o.global) { ok = false; return; }
    let type = o.type ?? 'string';
    // arrays, counts and the like: yargs parses the command line when they are used
    if ((type !== 'string' && type !== 'boolean' && type !== 'number') || o.count || o.array || o.nargs !== undefined || o.coerce || o.requiresArg) type = 'other';
    const aliases: string[] = o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias : [o.alias];
    const s: OptSpec = { type, default: o.default, choices: o.choices, names: [name, ...aliases] };
    for (const n of s.names) {
      if (spec.opts.has(n) || n === 'json' || n === 'verbose' || n === 'v' || n === 'log-file' || n === 'help' || n === 'h') { ok = false; return; }
      spec.opts.set(n, s);
    }
    spec.list.push(s);
  };
  const rec: any = new Proxy({}, {
    get(_t, prop) {
      if (prop === 'option' || prop === 'options') return (name: string, o: any) => { add(name, o ?? {}); return rec; };
      if (prop === 'alias') {
        return (name: unknown, target: unknown) => {
          if (target === 'log-file' && typeof name === 'string' && !spec.opts.has(name)) spec.logFileAliases.push(name);
          else ok = false;
          return rec;
        };
      }
      if (prop === 'positional') {
        return (name: string, o: any) => {
          const p = spec.positionals.find((x) => x.name === name);
          const type = o?.type ?? 'string';
          if (!p || (type !== 'string' && type !== 'number') || o?.alias !== undefined || o?.default !== undefined || o?.coerce) ok = false;
          else { p.type = type; p.choices = o?.choices; }
          return rec;
        };
      }
      // anything else (check, conflicts, example, middleware...): not modelled
      return () => { ok = false; return rec; };
    },
  });
  try { cmd.builder?.(rec); } catch { return null; }
  return ok ? spec : null;
}

function setKey(args: Record<string, any>, s: OptSpec, v: unknown) {
  for (const n of s.names) { args[n] = v; const c = camel(n); if (c !== n) args[c] = v; }
}

function typed(type: string, v: string): unknown {
  if (type !== 'number') return v;
  if (!/^-?\d+(\.\d+)?$/.test(v) && !/^0x[0-9a-f]+$/i.test(v)) return undefined; // yargs' own rules for the rest
  return Number(v);
}

/**
 * Parse argv (argv[0] is the command name) as yargs would for this spec, including
 * the global --json, -v/--verbose and --log-file; null when yargs must decide.
 */
export function parseArgs(spec: ArgSpec, argv: string[]): Record<string, any> | null {
  const args: Record<string, any> = { _: [spec.name], verbose: 0, v: 0 };
  const pos: string[] = [];
  let rest = false;
  for (let i = 1; i < argv.length; i++) {
    let a = argv[i];
    if (rest || a === '-' || !a.startsWith('-') || /^-\d/.test(a)) { pos.push(a); continue; }
    if (a === '--') { rest = true; continue; }
    let val: string | undefined;
    let name: string;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
      name = a.slice(2);
    } else {
      if (a.length !== 2) return null; // bundled short flags
      name = a.slice(1);
    }
    if ((name === 'verbose' || name === 'v') && val === undefined) { args.verbose++; args.v = args.verbose; continue; }
    if (name === 'json') { if (val !== undefined) return null; args.json = true; continue; }
    if (name === 'log-file' || spec.logFileAliases.includes(name)) {
      const v = val ?? argv[++i];
      if (v === undefined || (val === undefined && v.startsWith('-'))) return null;
      args['log-file'] = args.logFile = v; continue;
    }
    let s = spec.opts.get(name);
    let neg = false;
    if (!s && name.startsWith('no-')) { s = spec.opts.get(name.slice(3)); neg = true; if (s && s.type !== 'boolean') return null; }
    if (!s || s.type === 'other') return null; // unknown (or help, or not modelled): yargs decides
    if (s.type === 'boolean') {
      if (val !== undefined) return null;
      setKey(args, s, !neg); continue;
    }
    const raw = val ?? argv[++i];
    if (raw === undefined || (val === undefined && raw.startsWith('-') && raw !== '-' && !/^-\d/.test(raw))) return null;
    const v = typed(s.type, raw);
    if (v === undefined) return null;
    if (s.choices && !s.choices.includes(v)) return null;
    if (args[s.names[0]] !== undefined) return null; // repeated: yargs makes an array
    setKey(args, s, v);
  }
  if (pos.length > spec.positionals.length) return null;
  for (let k = 0; k < spec.positionals.length; k++) {
    const p = spec.positionals[k];
    if (k >= pos.length) { if (p.required) return null; continue; }
    const v = typed(p.type, pos[k]);
    if (v === undefined || (p.choices && !p.choices.includes(v))) return null;
    args[p.name] = v;
    const c = camel(p.name); if (c !== p.name) args[c] = v;
  }
  for (const s of spec.list) if (args[s.names[0]] === undefined && s.default !== undefined) setKey(args, s, s.default);
  return args;
}
