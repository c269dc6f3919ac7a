// Issue 5: UDP (bound and connected), IPv4 and IPv6, a dual-stack listener, a
// bound-only TCP socket, and socket options, through tscr dump / restore. The
// program (fixtures/inet_misc.c) checks every address, peer and option itself
// and passes traffic. Also: a listener with a connection not accepted yet
// fails the dump clearly and leaves the program running.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tscr, killAll, waitGone, pidLive, sleep, startOwnSession } from './helpers/restore.ts';
import { rawClient, ip4, startServer } from './helpers/tcp.ts';
import { releaseLeftLock } from '../lib/netlock.ts';

test('UDP/TCP sockets and options survive dump and restore (the program checks itself)', async () => {
  const fx = await startOwnSession('inet_misc');
  const img = mkdtempSync(join(tmpdir(), 'tscr-inet-'));
  try {
    const d = tscr(['dump', '-t', String(fx.pid), '-D', img]);
    assert.is(d.code, 0, d.stderr);
    const files = JSON.parse(tscr(['decode', '-i', join(img, 'files.img')]).stdout).entries.filter((e: any) => e.type === 'INETSK');
    assert.is(files.length, 5);
    const kinds = files.map((e: any) => `${e.isk.family}/${e.isk.proto}/${e.isk.state}`).sort();
    assert.equal(kinds, ['INET/TCP/CLOSE', 'INET/UDP/CLOSE', 'INET6/TCP/LISTEN', 'INET6/UDP/CLOSE', 'INET6/UDP/ESTABLISHED'].sort()
      .map((k) => k.replace(/INET(6?)\/(\w+)\/(\w+)/, (_m, six, p, s) => `${six ? 10 : 2}/${p === 'TCP' ? 6 : 17}/${s === 'CLOSE' ? 7 : s === 'LISTEN' ? 10 : 1}`)).sort());
    await waitGone([fx.pid]);
    const r = tscr(['restore', '-D', img, '-d']);
    assert.is(r.code, 0, r.stderr);
    process.kill(fx.pid, 'SIGUSR1');
    const t0 = Date.now();
    while (!existsSync(fx.out) && Date.now() - t0 < 5000) await sleep(25);
    assert.is(readFileSync(fx.out, 'utf8').trim(), 'PASS');
  } finally {
    killAll([fx.pid]);
    rmSync(img, { recursive: true, force: true });
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('a listener with a connection not accepted yet: the dump says so and the server keeps running', async () => {
  const srv = await startServer(['127.0.0.1', '0', '1000'], (port) => rawClient('INET', ip4('127.0.0.1'), port), undefined, { setsid: true });
  const img = mkdtempSync(join(tmpdir(), 'tscr-inet-'));
  const port = Number(readFileSync(srv.out + '.port', 'utf8'));
  const pendingFd = rawClient('INET', ip4('127.0.0.1'), port);   // completes the handshake; the server never accepts it
  try {
    await sleep(50);
    const d = tscr(['dump', '-t', String(srv.pid), '-D', img, '--tcp-established']);
    assert.is.not(d.code, 0);
    assert.match(d.stderr, /listening with 1 connection\(s\) not accepted yet/);
    assert.match(d.stderr, /hint: .*--tcp-skip-in-flight/);
    assert.ok(pidLive(srv.pid), 'the server still runs');
    // as the hint says: the accepted connection is migrated, the pending one dropped
    const d2 = tscr(['dump', '-t', String(srv.pid), '-D', img, '--tcp-established', '--tcp-skip-in-flight']);
    assert.is(d2.code, 0, d2.stderr);
    await waitGone([srv.pid]);
    const r = tscr(['restore', '-D', img, '--tcp-established', '-d']);
    assert.is(r.code, 0, r.stderr);
    assert.ok(pidLive(srv.pid), 'restored');
  } finally {
    releaseLeftLock(srv.pid);
    try { closeSync(pendingFd); } catch { /* closed */ }
    killAll([srv.pid]);
    srv.kill();
    try { closeSync(srv.client); } catch { /* closed */ }
    rmSync(img, { recursive: true, force: true });
  }
});

test.run();
