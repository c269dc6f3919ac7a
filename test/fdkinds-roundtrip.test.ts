// dump -> kill -> restore -> verify with the real engines (tscr dump / tscr
// restore as subprocesses) on the fd-kind fixtures: every byte queued in a pipe
// or socket at dump time is read after restore, exactly once; counters, timers,
// epoll readiness, memfd contents and seals, inotify watches survive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tscr, startOwnSession, verdict, killAll, waitGone, descendants } from './helpers/restore.ts';

async function roundTrip(name: string, extra: string[] = []) {
  const fx = await startOwnSession(name);
  let pids = descendants(fx.pid);
  const img = join(fx.dir, 'img');
  mkdirSync(img);
  try {
    const d = tscr(['dump', '-t', String(fx.pid), '-D', img]);
    assert.is(d.code, 0, `dump of ${name} failed: ${d.stderr}`);
    assert.ok(await waitGone(pids, 8000), 'dump killed the tree');
    const r = tscr(['restore', '-D', img, '-d', '--json', ...extra]);
    assert.is(r.code, 0, `restore of ${name} failed: ${r.stderr}`);
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  } finally {
    killAll(pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
}

test('pipes and FIFOs (fd-pipe)', () => roundTrip('fd-pipe'));
test('eventfd, timerfd, signalfd, epoll, memfd, inotify (fd-misc)', () => roundTrip('fd-misc'));
test('unix sockets (fd-unix)', () => roundTrip('fd-unix'));

test.run();
