// dump -> kill -> restore -> verify with the real engines (tscr dump / tscr
// restore as subprocesses) on the fd-kind fixtures: every byte queued in a pipe
// or socket at dump time is read after restore, exactly once; counters, timers,
// epoll readiness, memfd contents and seals, inotify watches survive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync, existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tscr, verdict, killAll, descendants, dumpFreshFixture } from './helpers/restore.ts';

const CRIT = ['/usr/bin/crit', '/usr/local/bin/crit'].find((p) => existsSync(p));

/** The images decode with CRIU's own crit (Debian's 3.17 here) and hold the kinds we expect. */
function critDecodes(img: string, types: string[]) {
  if (!CRIT) return;
  for (const f of readdirSync(img).filter((n) => /^(files|sk-queues|pipes-data|fifo-data|memfd|pagemap-shmem-\d+)\.img$/.test(n))) {
    const r = spawnSync(CRIT, ['decode', '-i', join(img, f)], { encoding: 'utf8' });
    assert.is(r.status, 0, `crit decode ${f}: ${r.stderr}`);
    if (f === 'files.img') {
      const got = new Set(JSON.parse(r.stdout).entries.map((e: any) => e.type));
      for (const t of types) assert.ok(got.has(t), `crit sees a ${t} entry in files.img`);
    }
  }
}

async function roundTrip(name: string, types: string[], extra: string[] = []) {
  const d = (await dumpFreshFixture(name))!;
  const { fx, img } = d;
  let pids = d.pids;
  try {
    critDecodes(img, types);
    const r = tscr(['restore', '-D', img, '-d', '--json', ...extra]);
    assert.is(r.code, 0, `restore of ${name} failed: ${r.stderr}`);
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  } finally {
    killAll(pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
}

test('pipes and FIFOs (fd-pipe)', () => roundTrip('fd-pipe', ['PIPE', 'FIFO']));
test('eventfd, timerfd, signalfd, epoll, memfd, inotify (fd-misc)', () => roundTrip('fd-misc', ['EVENTFD', 'TIMERFD', 'SIGNALFD', 'EVENTPOLL', 'MEMFD', 'INOTIFY']));
test('unix sockets (fd-unix)', () => roundTrip('fd-unix', ['UNIXSK']));

test('shared between parent and child: socketpair, eventfd, memfd + MAP_SHARED memfd and anonymous memory (fd-share)', () => roundTrip('fd-share', ['UNIXSK', 'EVENTFD', 'MEMFD']));

test.run();
