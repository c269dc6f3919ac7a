// The offline commands work on a host without the shim: only dist/, bin/ and
// build/core.wasm are copied to a temp dir (no node_modules, no koffi, no
// libtscr.so), TSCR_FORBID_SHIM=1 is set, and the loaded code is checked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../lib/paths.ts';
import { sharedImages } from './codec-shared.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-offline-'));
const images = sharedImages();

function tscr(args: string[], input?: Buffer) {
  // --preload hook: fail loudly if anything tries to load native code (.node addons, koffi)
  const r = spawnSync(process.execPath, ['--import', join(tmp, 'no-native.mjs'), join(tmp, 'bin', 'tscr.js'), ...args], {
    cwd: tmp, input, env: { PATH: process.env.PATH, TSCR_FORBID_SHIM: '1' }, maxBuffer: 64 << 20,
  });
  return { rc: r.status, out: r.stdout, err: r.stderr.toString() };
}

test.before(() => {
  assert.ok(existsSync(join(ROOT, 'dist', 'tscr.js')), 'run `node scripts/build.mjs cli` first');
  cpSync(join(ROOT, 'dist'), join(tmp, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'bin'), join(tmp, 'bin'), { recursive: true });
  mkdirSync(join(tmp, 'build'));
  copyFileSync(join(ROOT, 'build', 'core.wasm'), join(tmp, 'build', 'core.wasm'));
  copyFileSync(join(ROOT, 'package.json'), join(tmp, 'package.json'));
  const hook = `import Module from 'node:module';
process.dlopen = function () { throw new Error('native code loaded: ' + arguments[1]); };
`;
  writeFileSync(join(tmp, 'no-native.mjs'), hook);
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('the copy has no node_modules, koffi or shim', () => {
  assert.not.ok(existsSync(join(tmp, 'node_modules')));
  assert.not.ok(existsSync(join(tmp, 'build', 'libtscr.so')));
});

test('decode, encode, show, info and x work without the shim', () => {
  const core = images.find((i) => i.set === 'sockets' && i.name.startsWith('core-'))!;
  const dec = tscr(['decode', '-i', core.path, '--pretty']);
  assert.is(dec.rc, 0, dec.err);
  assert.is(dec.out.toString(), readFileSync(core.json, 'utf8') + '\n');
  const enc = tscr(['encode', '-i', '-', '-o', '-'], dec.out);
  assert.is(enc.rc, 0, enc.err);
  assert.ok(enc.out.equals(readFileSync(core.path)), 'encode is byte-identical');
  const show = tscr(['show', core.path]);
  assert.is(show.rc, 0, show.err);
  assert.match(show.out.toString(), /"magic": "CORE"/);
  const info = tscr(['info', '-i', core.path]);
  assert.is(info.rc, 0, info.err);
  assert.equal(JSON.parse(info.out.toString()), { magic: 'CORE', count: 1 });
  const x = tscr(['x', join(core.path, '..'), 'ps']);
  assert.is(x.rc, 0, x.err);
  assert.match(x.out.toString(), /PID\s+PGID\s+SID\s+COMM/);
});

test('bad input exits non-zero with a located error', () => {
  const pages = images.find((i) => i.set === 'sockets')!;
  const r = tscr(['decode', '-i', join(pages.path, '..', 'pages-1.img')]);
  assert.is(r.rc, 1);
  assert.match(r.err, /tscr: unknown magic .*offset 0/);
  assert.match(r.err, /hint:/);
});

test.run();
