import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../cli/main.ts';

test('version prints and exits 0', async () => {
  let out = '';
  const rc = await main(['version', '--json'], { stdout: (s) => { out += s; }, stderr: () => {} });
  assert.is(rc, 0);
  assert.is(JSON.parse(out).tscr, '0.1.0');
});

test('unknown command is a usage error (exit 2) with a hint', async () => {
  let err = '';
  const rc = await main(['frobnicate'], { stdout: () => {}, stderr: (s) => { err += s; } });
  assert.is(rc, 2);
  assert.match(err, /hint/);
});

test.run();
