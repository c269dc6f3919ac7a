import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { startFixture } from './helpers/fixture.ts';
import { runInTracer } from '../lib/tracer.ts';

test('shim primitives: seize, regs, xstate, injection, vm_read; target unharmed', async () => {
  const fx = await startFixture('loop', [], { daemon: true });
  try {
    const mapsBefore = readFileSync(`/proc/${fx.pid}/maps`, 'utf8');
    const r: any = await runInTracer('selftest', { pid: fx.pid });
    assert.is(r.getpid, fx.pid);
    assert.is(r.pokeGetpid, fx.pid, 'injection through a poked gadget');
    assert.ok(r.codeRestored, 'the poked code is put back');
    assert.ok(r.mmapOk, 'injected mmap returned an address');
    assert.is(r.munmap, 0);
    assert.ok(r.regsRestored);
    assert.ok(r.xstateSize >= 512, `xstate ${r.xstateSize}`);
    assert.is(r.vmRead, 4096);
    assert.is(readFileSync(`/proc/${fx.pid}/maps`, 'utf8'), mapsBefore, 'no mapping left behind');
    assert.match(readFileSync(`/proc/${fx.pid}/status`, 'utf8'), /TracerPid:\s+0\n/);
    assert.is(await fx.check(), 'PASS');
  } finally {
    fx.kill();
  }
});

test.run();
