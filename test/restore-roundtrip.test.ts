// dump -> kill -> restore -> verify, on self-checking fixtures (fixtures/r-*.c
// and the dump developer's). Each program checks its own state after SIGUSR1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { tscr, verdict, killAll, descendants, dumpFreshFixture } from './helpers/restore.ts';

async function roundTrip(name: string, args: string[] = [], extra: string[] = [], skipDump?: RegExp) {
  const d = await dumpFreshFixture(name, args, skipDump);
  if (!d) return;
  const { fx, img } = d;
  let pids = d.pids;
  try {
    const r = tscr(['restore', '-D', img, '-d', '--json', ...extra]);
    assert.is(r.code, 0, `restore of ${name} failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout);
    assert.is(res.root, fx.pid);
    assert.equal(res.pids.slice().sort(), pids.slice().sort(), 'same pids');
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  } finally {
    killAll(pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
}

test('memory: patterns, sparse, read-only, PROT_NONE, heap, stack (r-mem)', () => roundTrip('r-mem'));
test('threads with TLS and per-thread masks (r-threads)', () => roundTrip('r-threads'));
test('signals: handlers, masks, pending, altstack, itimer (r-signals)', () => roundTrip('r-signals'));
test('files: offsets, O_APPEND, dup, cloexec, /dev/null (r-files)', () => roundTrip('r-files', ['noghost']));
test('files deleted while open (ghost) (r-files)', () => roundTrip('r-files', [], [], /remap-fpath/));
test('tree: sessions and groups (r-tree)', () => roundTrip('r-tree'));
test('shared anonymous memory between parent and child (r-shm)', () => roundTrip('r-shm', [], [], /shared anonymous memory|mapping of \/dev\/zero/));
test('a zombie in the tree, leading a process group (r-zombie)', () => roundTrip('r-zombie', [], [], /cannot attach to thread|zombie process/));
test('double-fork daemon under a subreaper: session and group of a leader that is gone (r-daemon)', () => roundTrip('r-daemon'));
test('a pipeline whose first command exited: a group whose leader is gone (r-pipeline)', () => roundTrip('r-pipeline'));
test('credentials (r-creds)', () => roundTrip('r-creds'));
test('seccomp filter: getppid -> EPERM, no_new_privs (r-seccomp)', () => roundTrip('r-seccomp'));
test('seccomp chains shared by threads, one thread\'s own filter, a LOG-flagged killing filter (r-seccomp-threads)', () => roundTrip('r-seccomp-threads'));
test('a thread in strict seccomp mode blocked in read() (r-seccomp-strict)', () => roundTrip('r-seccomp-strict'));
// the dump developer's fixtures (fixtures/*.c without the r- prefix)
test('dump fixture: memory', () => roundTrip('memory'));
test('dump fixture: tree', () => roundTrip('tree'));
test('dump fixture: threads', () => roundTrip('threads'));
test('dump fixture: signals', () => roundTrip('signals'));
test('dump fixture: files (with a private file mapping and a ghost file)', () => roundTrip('files', [], [], /remap-fpath/));
test('counter loop (loop)', () => roundTrip('loop'));

test.run();
