// The crit-compatible commands through cli/main.ts (fast path and yargs path).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/main.ts';
import { sharedImages } from './codec-shared.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-cli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const img = sharedImages().find((i) => i.set === 'tree' && i.name === 'pipes-data.img')!;

async function run(argv: string[]) {
  let out = '', err = '';
  const bytes: Buffer[] = [];
  const rc = await main(argv, { stdout: (s) => { out += s; }, stderr: (s) => { err += s; }, stdoutBytes: (b) => { bytes.push(Buffer.from(b)); } });
  return { rc, out, err, bytes: Buffer.concat(bytes) };
}

test('decode to stdout and to a file, like crit', async () => {
  const a = await run(['decode', '-i', img.path, '--pretty']);
  assert.is(a.rc, 0, a.err);
  assert.is(a.bytes.toString(), readFileSync(img.json, 'utf8') + '\n');
  const o = join(tmp, 'p.json');
  const b = await run(['decode', '--in', img.path, '-o', o, '--pretty']);
  assert.is(b.rc, 0, b.err);
  assert.is(readFileSync(o, 'utf8'), readFileSync(img.json, 'utf8'));
});

test('encode from a file to a file is byte-identical', async () => {
  const o = join(tmp, 'pipes-data.img');
  const r = await run(['encode', '-i', img.json, '-o', o]);
  assert.is(r.rc, 0, r.err);
  assert.ok(readFileSync(o).equals(readFileSync(img.path)));
});

test('info, show --nopl, x', async () => {
  const i = await run(['info', img.path]);
  assert.equal(JSON.parse(i.out), { magic: 'PIPES_DATA', count: 1 });
  const s = await run(['show', '-i', img.path, '--nopl']);
  assert.match(s.out, /"extra": "\.\.\. <14B>"/);
  const x = await run(['x', join(img.path, '..'), 'fds']);
  assert.is(x.rc, 0, x.err);
  assert.match(x.out, /pipe\[\d+\]/);
});

test('errors: usage (2), bad image (1, located, hint), --json error object', async () => {
  assert.is((await run(['decode', '--nonsense'])).rc, 2);
  const pages = join(img.path, '..', 'pages-1.img');
  const r = await run(['decode', '-i', pages, '--json']);
  assert.is(r.rc, 1);
  assert.match(r.err, /offset 0/);
  assert.is(JSON.parse(r.out).error, 'E_BAD_MAGIC');
  const cut = join(tmp, 'cut.img');
  (await import('node:fs')).writeFileSync(cut, readFileSync(img.path).subarray(0, 20));
  const o = join(tmp, 'cut.json');
  const t = await run(['decode', '-i', cut, '-o', o]);
  assert.is(t.rc, 1);
  assert.match(t.err, /image PIPES_DATA, offset \d+/);
  assert.not.ok((await import('node:fs')).existsSync(o), 'no half-written output');
  const m = await run(['decode', '-i', join(tmp, 'missing.img')]);
  assert.is(m.rc, 1);
  assert.match(m.err, /missing\.img/);
});

test.run();
