import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startFixture } from './helpers/fixture.ts';
import { dumpFds, restoreIntoChecker } from './helpers/fdharness.ts';

test('pipes and FIFOs: queued bytes copied without consuming them, restored into a new process exactly once', async () => {
  const fx = await startFixture('fd-pipe', [], { daemon: true });
  try {
    const d = dumpFds(fx.pid);
    const pipes = d.files.filter((f) => f.type === 'PIPE');
    assert.is(pipes.length, 6, 'six pipe ends');
    assert.is(pipes.find((f) => f.pipe.flags === '0x800')?.pipe.flags, '0x800', 'O_NONBLOCK read end');
    const data = d.images.PIPES_DATA;
    assert.ok(data.some((e: any) => e.bytes === 14 && Buffer.from(e.extra, 'base64').toString() === 'queued-in-pipe'));
    assert.ok(data.some((e: any) => e.bytes === 65536 && e.size === 65536));
    assert.is(d.files.filter((f) => f.type === 'FIFO').length, 2);
    assert.ok(d.files.some((f) => f.type === 'REG' && f.reg.name.endsWith('.fifo')), 'FIFO path as REG entry');
    assert.is(d.images.FIFO_DATA?.[0]?.bytes, 10);
    // the dumped process still has every byte, exactly once (it checks and exits;
    // the FIFO then is empty and closed, as after a real dump that kills the target)
    await restoreIntoChecker(d, fx, 'fd-pipe');
  } finally {
    fx.kill();
  }
});

test.run();
