import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { startFixture, waitFile, sleep } from './helpers/fixture.ts';
import { dumpFds, restoreFds, spawnWithFds, reap } from './helpers/fdharness.ts';
import { FIXTURES_BIN } from '../lib/paths.ts';

test('pipes and FIFOs: queued bytes copied without consuming them, restored into a new process exactly once', async () => {
  const fx = await startFixture('fd-pipe', [], { daemon: true });
  let child = 0;
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
    assert.is(await fx.check(), 'PASS');
    const r = await restoreFds(d, fx.pid);
    const out = fx.out; // same paths as the dumped process (the checker derives its files from it)
    rmSync(out, { force: true });
    try {
      child = spawnWithFds(join(FIXTURES_BIN, 'fd-pipe'), [out, '--check'], r.fds);
    } finally { r.close(); }
    assert.is((await waitFile(out)).trim(), 'PASS');
  } finally {
    if (child) { try { process.kill(child, 'SIGKILL'); } catch {} await sleep(10); reap(child); }
    fx.kill();
  }
});

test.run();
