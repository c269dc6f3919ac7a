import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startFixture } from './helpers/fixture.ts';
import { dumpFds, restoreIntoChecker } from './helpers/fdharness.ts';

test('eventfd, timerfd, signalfd, epoll, memfd, inotify: state restored into a new process', async () => {
  const fx = await startFixture('fd-misc', [], { daemon: true });
  try {
    const d = dumpFds(fx.pid);
    const t = (ty: string) => d.files.filter((f) => f.type === ty);
    assert.equal(t('EVENTFD').map((f) => [f.efd.counter, f.efd.flags]), [[7, 2], [3, 0o4003]]);
    assert.is(t('TIMERFD').length, 2);
    assert.is(t('TIMERFD')[0].tfd.isec, 1);
    assert.is(t('SIGNALFD')[0].sgfd.sigmask, '0x' + ((1n << 11n) | (1n << 0n)).toString(16));
    const ep = t('EVENTPOLL')[0].epfd;
    assert.equal(ep.tfd.map((x: any) => [x.tfd, x.events, x.data]).sort((a: any, b: any) => a[0] - b[0]), [[20, 0x19, 77], [22, 0x80000019, 0x1234567890]]);
    const mi = d.images.MEMFD_INODE[0];
    assert.is(mi.name, 'fixture');
    assert.is(mi.seals, 'F_SEAL_SHRINK | F_SEAL_GROW');
    assert.is(mi.size, 5 * 4096);
    assert.equal(d.shmem[mi.shmid].map((r) => [r.off, Buffer.from(r.data, 'base64').length]), [[0, 8192], [12288, 4096]]);
    assert.is(t('MEMFD')[0].memfd.pos, 6);
    const ify = t('INOTIFY')[0].ify;
    assert.equal(ify.wd.map((w: any) => w.wd), [1, 2]);
    assert.ok(ify.wd[1].f_handle.path.endsWith('.watched'));
    // the dumped process still has every byte, exactly once (it checks and exits;
    // the FIFO then is empty and closed, as after a real dump that kills the target)
    await restoreIntoChecker(d, fx, 'fd-misc');
  } finally {
    fx.kill();
  }
});

test.run();
