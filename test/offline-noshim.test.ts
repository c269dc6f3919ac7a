// The offline toolkit must run where the native shim cannot exist (macOS, no
// koffi): with TSCR_FORBID_SHIM=1, and from a copy of tscr without node_modules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_DIR, cleanup } from './helpers/offline.ts';
import { ROOT } from '../lib/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-noshim-'));
test.after(() => cleanup(tmp));

let runs = 0;
function commands(bin: string) {
  const mem = join(SHARED_DIR, 'mem', 'images'), tree = join(SHARED_DIR, 'tree', 'images');
  const arc = join(tmp, `mem-${++runs}.tscr`);
  return [
    // convert's archive writer runs core-mt.wasm (shared memory) and compression workers
    [bin, 'convert', mem, arc],
    [bin, 'convert', arc, join(tmp, `mem-${runs}.dir`)],
    [bin, 'validate', mem],
    [bin, 'validate', tree, '--json'],
    [bin, 'mem', mem, '--hex', '77 ca eb 85'],
    [bin, 'mem', mem, '--dump', '0x400000', '32'],
    [bin, 'diff', tree, tree],
    [bin, 'report', tree, '-o', join(tmp, 'r.html')],
  ];
}

test('build the CLI bundle', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), 'cli'], { cwd: ROOT, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
});

test('validate, mem, diff, report run with TSCR_FORBID_SHIM=1', () => {
  for (const argv of commands(join(ROOT, 'bin', 'tscr.js'))) {
    const r = spawnSync(process.execPath, argv, { encoding: 'utf8', env: { ...process.env, TSCR_FORBID_SHIM: '1' } });
    assert.is(r.status, 0, `${argv.slice(1).join(' ')}: ${r.stderr}`);
  }
});

test('and from a copy of tscr with no node_modules (no koffi, no libtscr.so)', () => {
  const root = join(tmp, 'tscr');
  mkdirSync(join(root, 'build'), { recursive: true });
  for (const d of ['bin', 'dist']) cpSync(join(ROOT, d), join(root, d), { recursive: true });
  for (const f of ['core.wasm', 'core-mt.wasm']) cpSync(join(ROOT, 'build', f), join(root, 'build', f));
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  assert.not.ok(existsSync(join(root, 'node_modules')));
  for (const argv of commands(join(root, 'bin', 'tscr.js'))) {
    const r = spawnSync(process.execPath, argv, { encoding: 'utf8', cwd: tmp, env: { ...process.env, TSCR_FORBID_SHIM: '1', NODE_PATH: '' } });
    assert.is(r.status, 0, `${argv.slice(1).join(' ')}: ${r.stderr}`);
  }
  assert.match(readFileSync(join(tmp, 'r.html'), 'utf8'), /id="tree"/);
});

test.run();
