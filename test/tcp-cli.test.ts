// Issue 5, end to end: `tscr dump --tcp-established` of a server whose client
// is outside the dumped tree (this test process), the tree killed, data sent
// in flight, `tscr restore --tcp-established`; the restored server checks the
// client's bytes itself, both directions keep working, the network lock is
// taken by the dump and released by the restore.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawClient, pattern, ip4, startServer, readExact, writeAll, setTimeouts } from './helpers/tcp.ts';
import { tscr, killAll, waitGone, sleep } from './helpers/restore.ts';
import { listLocks, releaseLeftLock } from '../lib/netlock.ts';

test('tscr dump --tcp-established / restore: the outside client keeps its connection', async () => {
  const srv = await startServer(['127.0.0.1', '0', String(1 << 20)], (port) => rawClient('INET', ip4('127.0.0.1'), port, 8192), undefined, { setsid: true });
  const img = mkdtempSync(join(tmpdir(), 'tscr-tcpimg-'));
  const client = srv.client;
  let restored = 0;
  try {
    setTimeouts(client, 20);
    const before = pattern(0, 20000, 13, 5);
    writeAll(client, before);
    assert.ok(readExact(client, 1000).equals(pattern(0, 1000)));

    // without the flag: a clear refusal naming it, and the server untouched
    const no = tscr(['dump', '-t', String(srv.pid), '-D', img]);
    assert.is.not(no.code, 0);
    assert.match(no.stderr, /--tcp-established/);
    assert.is(listLocks().filter((t) => t === `tscr-${srv.pid}`).length, 0, 'no lock left by the failed dump');

    const d = tscr(['dump', '-t', String(srv.pid), '-D', img, '--tcp-established']);
    assert.is(d.code, 0, d.stderr);
    assert.ok(await waitGone([srv.pid]), 'the dumped tree was killed');
    assert.ok(listLocks().includes(`tscr-${srv.pid}`), 'the network stays locked between dump and restore');
    const inflight = pattern(20000, 3000, 13, 5);
    writeAll(client, inflight);                               // in flight: dropped now, retransmitted later
    writeFileSync(srv.out + '.expect', String(before.length + inflight.length));
    await sleep(200);

    const r = tscr(['restore', '-D', img, '--tcp-established', '-d']);
    assert.is(r.code, 0, r.stderr);
    restored = srv.pid;
    assert.not.ok(listLocks().includes(`tscr-${srv.pid}`), 'unlocked after restore');
    process.kill(srv.pid, 'SIGUSR1');                         // the server reads, checks, answers
    assert.ok(readExact(client, srv.sent - 1000).equals(pattern(1000, srv.sent - 1000)), 'the server stream continues exactly');
    assert.is(readExact(client, 13).toString(), 'after restore');
    writeAll(client, Buffer.from('ping'));
    const t0 = Date.now();
    while (!existsSync(srv.out) && Date.now() - t0 < 10000) await sleep(25);
    assert.is(readFileSync(srv.out, 'utf8').trim(), 'PASS');
  } finally {
    if (restored) killAll([restored]);
    srv.kill();
    try { closeSync(client); } catch { /* closed */ }
    rmSync(img, { recursive: true, force: true });
    releaseLeftLock(srv.pid);   // only if an assertion failed in between
  }
});

test('a forking server (listener in the parent, the connection in a child): both restored, the client keeps going', async () => {
  const srv = await startServer(['127.0.0.1', '0', String(256 << 10), 'fork'], (port) => rawClient('INET', ip4('127.0.0.1'), port, 8192), undefined, { setsid: true });
  const img = mkdtempSync(join(tmpdir(), 'tscr-tcpimg-'));
  const client = srv.client;
  const parent = Number(readFileSync(`/proc/${srv.pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  try {
    setTimeouts(client, 20);
    const before = pattern(0, 5000, 13, 5);
    writeAll(client, before);
    const d = tscr(['dump', '-t', String(parent), '-D', img, '--tcp-established']);
    assert.is(d.code, 0, d.stderr);
    assert.ok(await waitGone([parent, srv.pid]));
    writeFileSync(srv.out + '.expect', String(before.length));
    const r = tscr(['restore', '-D', img, '--tcp-established', '-d']);
    assert.is(r.code, 0, r.stderr);
    process.kill(srv.pid, 'SIGUSR1');
    assert.ok(readExact(client, srv.sent).equals(pattern(0, srv.sent)));
    assert.is(readExact(client, 13).toString(), 'after restore');
    writeAll(client, Buffer.from('ping'));
    const t0 = Date.now();
    while (!existsSync(srv.out) && Date.now() - t0 < 10000) await sleep(25);
    assert.is(readFileSync(srv.out, 'utf8').trim(), 'PASS');
    // the parent's restored listener takes a new client
    const c2 = rawClient('INET', ip4('127.0.0.1'), Number(readFileSync(srv.out + '.port', 'utf8')));
    closeSync(c2);
  } finally {
    killAll([parent, srv.pid]);
    srv.kill();
    try { closeSync(client); } catch { /* closed */ }
    rmSync(img, { recursive: true, force: true });
    releaseLeftLock(parent);
  }
});

test.run();
