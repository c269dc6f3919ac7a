// The offline commands' yargs-free fast path (cli/argspec.ts) must read a command line
// exactly as yargs does, or hand it to yargs (null). Checked against yargs itself,
// for every command of the one list, on the forms users type.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import yargs from 'yargs';
import { commands } from '../cli/commands/index.ts';
import { argSpec, parseArgs } from '../cli/argspec.ts';
import type { Command } from '../cli/context.ts';
import { ROOT } from '../lib/paths.ts';

const byName = new Map((commands as Command[]).map((c) => [c.command.split(' ')[0], c]));

async function viaYargs(c: Command, argv: string[]): Promise<Record<string, any> | null> {
  let got: Record<string, any> | null = null;
  try {
    await yargs(argv)
      .option('json', { type: 'boolean', global: true })
      .option('verbose', { alias: 'v', type: 'count', global: true })
      .option('log-file', { type: 'string', global: true })
      .strict().help(false).version(false).exitProcess(false)
      .fail((msg: string, err: Error) => { throw err ?? new Error(msg); })
      .command(c.command, c.describe, c.builder ?? ((b: any) => b), (a: any) => { got = a; })
      .parseAsync();
  } catch { return null; }
  return got;
}

const CASES: [string, string[][]][] = [
  ['decode', [['-i', 'a.img'], ['--in', 'a.img', '-o', 'o.json', '--pretty'], ['--in=a.img', '--out=-'], ['-i', 'a', '--json', '-v', '-v']]],
  ['encode', [['-i', 'a.json', '-o', 'a.img'], []]],
  ['info', [['a.img'], ['-i', 'a.img'], ['--in', '-', '--json']]],
  ['show', [['a.img', '--nopl'], ['-i', 'a.img']]],
  ['x', [['d', 'ps'], ['d', 'mems', '--json'], ['d', 'rss', '--log-file', 'l.txt'], ['d', 'bogus'], ['d']]],
  ['mem', [['d'], ['d', '--pid', '12'], ['d', '-p', '0x10', '-s', 'hello', '--all'], ['d', '--max-hits=3', '-r', 'a.c'], ['d', '--hex', 'de ad'], ['d', '--dump', '0x1000', '16'], ['d', '--pid', 'abc']]],
  ['validate', [['d'], [], ['d', '-q', '--no-page-data'], ['--describe-host', '--for', 'd'], ['d', '--policy', 'p.json', '--json']]],
  ['diff', [['a', 'b'], ['a', 'b', '--pages', '--json'], ['a']]],
  ['report', [['d'], ['d', '-o', 'r.html'], ['d', '--html', 'x.html']]],
  ['convert', [['a', 'b'], ['a', 'b.tar', '--level', '0', '--workers=0', '--force'], ['a', 'b', '--prev', 'p']]],
  ['version', [[], ['--json']]],
];

test('the fast parser agrees with yargs (or defers to it) for every offline command', async () => {
  let fastCount = 0;
  for (const [name, lines] of CASES) {
    const c = byName.get(name);
    assert.ok(c, `command ${name} is in the list`);
    const spec = argSpec(c!);
    assert.ok(spec, `${name}: its yargs definition can be read by the fast path`);
    for (const rest of lines) {
      const argv = [name, ...rest];
      const mine = parseArgs(spec!, argv);
      if (!mine) continue; // yargs decides
      fastCount++;
      const y = await viaYargs(c!, argv);
      assert.ok(y, `${argv.join(' ')}: yargs rejects what the fast path accepted`);
      for (const [k, v] of Object.entries(y!)) {
        if (k === '$0') continue;
        // yargs reads a lone `-` value as '' (and sets the positional to '' too); all mean stdin/stdout (cli/io.ts isStd)
        if (v === '' && argv.includes('-') && (mine[k] === '-' || mine[k] === undefined)) continue;
        assert.equal(mine[k], v, `${argv.join(' ')}: ${k} is ${JSON.stringify(mine[k])}, yargs says ${JSON.stringify(v)}`);
      }
    }
  }
  assert.ok(fastCount >= 25, `most forms go the fast way (${fastCount})`);
});

test('every command that needs no shim has a fast-path bundle, and the shim ones have none', () => {
  if (!existsSync(join(ROOT, 'dist', 'tscr.js'))) return; // not built
  for (const [name, c] of byName) {
    assert.is(existsSync(join(ROOT, 'dist', `fast-${name}.cjs`)), !c.needsShim, name);
  }
});

test('fast path: help and errors fall through to yargs', () => {
  if (!existsSync(join(ROOT, 'dist', 'tscr.js'))) return;
  const bin = join(ROOT, 'bin', 'tscr.js');
  let r = spawnSync(process.execPath, [bin, 'x', 'd', 'bogus'], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /Choices/);
  r = spawnSync(process.execPath, [bin, 'mem', '--help'], { encoding: 'utf8' });
  assert.is(r.status, 0);
  assert.match(r.stdout, /--max-hits/);
});

test('bin/tscr.js run as a program (its #! line) drops NODE_EXTRA_CA_CERTS, which Node would load before any script', () => {
  if (!existsSync(join(ROOT, 'dist', 'tscr.js'))) return;
  const bin = join(ROOT, 'bin', 'tscr.js');
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/tscr-test-ca.pem' };
  // plain `node bin/tscr.js`: Node tries the file at start-up and warns
  let r = spawnSync(process.execPath, [bin, 'version'], { encoding: 'utf8', env });
  assert.is(r.status, 0);
  assert.match(r.stderr, /extra certs/i);
  // `tscr` as installed: the launcher's sh line unsets it and execs node on the same file
  r = spawnSync(bin, ['version'], { encoding: 'utf8', env: { ...env, PATH: `${join(process.execPath, '..')}:${process.env.PATH}` } });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  assert.match(r.stdout, /tscr/);
  r = spawnSync(bin, ['x', '/nonexistent-dir', 'ps'], { encoding: 'utf8', env });
  assert.is(r.status, 1);
  assert.match(r.stderr, /^tscr: /);
});

test.run();
