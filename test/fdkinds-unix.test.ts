import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startFixture } from './helpers/fixture.ts';
import { dumpFds, restoreIntoChecker } from './helpers/fdharness.ts';

test('unix sockets: pairs, listeners, names, queues with boundaries, closed peers', async () => {
  const fx = await startFixture('fd-unix', [], { daemon: true });
  try {
    const d = dumpFds(fx.pid);
    const sk = d.files.filter((f) => f.type === 'UNIXSK').map((f) => f.usk);
    assert.is(sk.length, 10);
    const byFd = (fd: number) => sk.find((u: any) => u.id === d.fdinfo.find((e) => e.fd === fd).id);
    assert.is(byFd(20).peer, byFd(21).ino);
    assert.is(byFd(22).type, 'DGRAM');
    assert.is(byFd(24).type, 'SEQPACKET');
    assert.is(byFd(26).state, 'LISTEN');
    assert.ok(byFd(26).name.endsWith('.sock'));
    assert.ok(byFd(27).name.startsWith('=00tscr-fx:'), 'abstract name, quoted-printable as crit shows it');
    const q = (fd: number) => d.images.SK_QUEUES.filter((e: any) => e.id_for === byFd(fd).id).map((e: any) => Buffer.from(e.extra, 'base64').toString());
    assert.equal(q(23), ['one', '', 'three33']);
    assert.equal(q(24), ['rec-A', 'rec-BB']);
    assert.equal(q(27), ['dg-1', 'dg-two']);
    assert.is(q(21).join(''), 'to-21:second');
    assert.is(byFd(29).shutdown, 'BOTH');
    // the dumped process still has every byte, exactly once (it checks and exits;
    // the FIFO then is empty and closed, as after a real dump that kills the target)
    await restoreIntoChecker(d, fx, 'fd-unix');
  } finally {
    fx.kill();
  }
});

test.run();
