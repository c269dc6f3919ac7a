import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runTscr } from './helpers/fixture.ts';

test('tscr check --json reports the features dump needs', async () => {
  const r = await runTscr(['check', '--json']);
  const caps = JSON.parse(r.stdout);
  assert.is(r.code, 0, r.stderr);
  assert.ok(caps.ptraceSeize && caps.syscallInjection && caps.pidfdGetfd && caps.kcmp);
  assert.ok(caps.xstateSize >= 576, `xstate size ${caps.xstateSize}`);
  assert.ok(caps.vdso.layout.includes('vdso'));
});

test('tscr check prints a table', async () => {
  const r = await runTscr(['check']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /syscall injection/);
  assert.match(r.stdout, /xstate size: \d+ bytes/);
});

test.run();
