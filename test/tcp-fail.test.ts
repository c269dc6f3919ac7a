// Issue 5: failure paths. Each one says what happened, leaves no network lock
// behind, and leaves the target as it was (dump) or kills what it made (restore).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawClient, pattern, ip4, startServer, readExact, writeAll, setTimeouts, dumpSockets, type Server } from './helpers/tcp.ts';
import { tscr, TSCR_BIN, killAll, waitGone, pidLive, sleep } from './helpers/restore.ts';
import { listLocks, releaseLeftLock } from '../lib/netlock.ts';

async function withServer(fn: (srv: Server, img: string) => Promise<void>) {
  const srv = await startServer(['127.0.0.1', '0', String(256 << 10)], (port) => rawClient('INET', ip4('127.0.0.1'), port, 8192), undefined, { setsid: true });
  const img = mkdtempSync(join(tmpdir(), 'tscr-tcpfail-'));
  setTimeouts(srv.client, 10);
  try { await fn(srv, img); } finally {
    killAll([srv.pid]);
    srv.kill();
    try { closeSync(srv.client); } catch { /* closed */ }
    releaseLeftLock(srv.pid);
    rmSync(img, { recursive: true, force: true });
  }
}

test('dump refused (no CAP_NET_ADMIN): says why, no lock left, server and connection untouched', () => withServer(async (srv, img) => {
  const before = pattern(0, 5000, 13, 5);
  writeAll(srv.client, before);
  const r = spawnSync('setpriv', ['--inh-caps', '-net_admin', '--bounding-set', '-net_admin', process.execPath, TSCR_BIN,
    'dump', '-t', String(srv.pid), '-D', img, '--tcp-established'], { encoding: 'utf8', timeout: 60000 });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /nft|repair/i, 'the message names what was refused');
  assert.match(r.stderr, /hint: .*(root|CAP_NET_ADMIN)/);
  assert.is(listLocks().filter((t) => t === `tscr-${srv.pid}`).length, 0, 'no lock left');
  assert.ok(pidLive(srv.pid), 'the server still runs');
  // the connection works as before: the whole stream arrives and the server checks what it got
  writeFileSync(srv.out + '.expect', String(before.length));
  process.kill(srv.pid, 'SIGUSR1');
  assert.ok(readExact(srv.client, srv.sent).equals(pattern(0, srv.sent)));
  assert.is(readExact(srv.client, 13).toString(), 'after restore');
  writeAll(srv.client, Buffer.from('ping'));
  const t0 = Date.now();
  while (!existsSync(srv.out) && Date.now() - t0 < 5000) await sleep(25);
  assert.is(readFileSync(srv.out, 'utf8').trim(), 'PASS');
}));

/** The server runs on with its connection exactly as before: everything arrives, the server checks what it got. */
async function stillServing(srv: Server, sentByClient: number) {
  writeFileSync(srv.out + '.expect', String(sentByClient));
  process.kill(srv.pid, 'SIGUSR1');
  assert.ok(readExact(srv.client, srv.sent).equals(pattern(0, srv.sent)), 'the server stream is intact');
  assert.is(readExact(srv.client, 13).toString(), 'after restore');
  writeAll(srv.client, Buffer.from('ping'));
  const t0 = Date.now();
  while (!existsSync(srv.out) && Date.now() - t0 < 5000) await sleep(25);
  assert.is(readFileSync(srv.out, 'utf8').trim(), 'PASS');
}

test('dump failing after the sockets were locked and repaired (late failure): unlocked, repair left, server serving', () => withServer(async (srv, img) => {
  const before = pattern(0, 3000, 13, 5);
  writeAll(srv.client, before);
  for (const stage of ['pages', 'write']) {
    const r = tscr(['dump', '-t', String(srv.pid), '-D', img, '--tcp-established'], 60000, { TSCR_TEST_FAIL_AFTER: stage });
    assert.is.not(r.code, 0, stage);
    assert.is(listLocks().filter((t) => t === `tscr-${srv.pid}`).length, 0, `no lock left (${stage})`);
    assert.ok(pidLive(srv.pid), 'the server still runs');
  }
  await stillServing(srv, before.length);
}));

test('dump --leave-running --tcp-established: images written, the connection goes on', () => withServer(async (srv, img) => {
  const before = pattern(0, 4000, 13, 5);
  writeAll(srv.client, before);
  const r = tscr(['dump', '-t', String(srv.pid), '-D', img, '--tcp-established', '--leave-running']);
  assert.is(r.code, 0, r.stderr);
  assert.ok(readdirSync(img).some((f) => f.startsWith('tcp-stream-')), 'tcp-stream image written');
  assert.is(listLocks().filter((t) => t === `tscr-${srv.pid}`).length, 0, 'no lock left');
  assert.ok(pidLive(srv.pid));
  await stillServing(srv, before.length);
}));

test('tscr net-unlock after a dump that died mid-way (sockets left in repair mode, lock left)', () => withServer(async (srv) => {
  const before = pattern(0, 2000, 13, 5);
  writeAll(srv.client, before);
  // what a SIGKILLed dump leaves behind: the lock, and the server's socket in repair mode
  dumpSockets(srv.pid, { 'tcp-established': true, rootPid: srv.pid }, new Map());
  assert.ok(listLocks().includes(`tscr-${srv.pid}`));
  const r = tscr(['net-unlock', '-t', String(srv.pid), '--json']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.lockRemoved, true);
  assert.is(j.repaired.length, 1, 'one socket taken out of repair mode');
  assert.is(listLocks().filter((t) => t === `tscr-${srv.pid}`).length, 0);
  await stillServing(srv, before.length);
}));

test('restore with the port taken: says so, kills what it made, unlocks', () => withServer(async (srv, img) => {
  const port = Number(readFileSync(srv.out + '.port', 'utf8'));
  const d = tscr(['dump', '-t', String(srv.pid), '-D', img, '--tcp-established']);
  assert.is(d.code, 0, d.stderr);
  await waitGone([srv.pid]);
  assert.ok(listLocks().includes(`tscr-${srv.pid}`));
  const squatter: NetServer = createServer();
  await new Promise<void>((res) => squatter.listen(port, '127.0.0.1', () => res()));
  try {
    const r = tscr(['restore', '-D', img, '--tcp-established', '-d']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE.*port is taken`));
    assert.match(r.stderr, /hint: /);
    assert.not.ok(pidLive(srv.pid), 'nothing restored is left running');
    assert.is(listLocks().filter((t) => t === `tscr-${srv.pid}`).length, 0, 'the network is unlocked');
  } finally {
    await new Promise((res) => squatter.close(res));
  }
}));

test('restore refused by the kernel (damaged tcp-stream image): says which step, unlocks', () => withServer(async (srv, img) => {
  const d = tscr(['dump', '-t', String(srv.pid), '-D', img, '--tcp-established']);
  assert.is(d.code, 0, d.stderr);
  await waitGone([srv.pid]);
  const f = readdirSync(img).find((x) => x.startsWith('tcp-stream-'))!;
  assert.ok(f, 'a tcp-stream image was written');
  const dec = tscr(['decode', '-i', join(img, f)]);
  assert.is(dec.code, 0, dec.stderr);
  const j = JSON.parse(dec.stdout);
  j.entries[0].snd_wscale = 15;                       // more than TCP allows (14)
  j.entries[0].opt_mask = '0x7';
  const enc = spawnSync(process.execPath, [TSCR_BIN, 'encode', '-o', join(img, f)], { input: JSON.stringify(j), encoding: 'utf8' });
  assert.is(enc.status, 0, enc.stderr);
  const r = tscr(['restore', '-D', img, '--tcp-established', '-d']);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /set TCP options .* failed: (EFBIG|errno 27|EINVAL)/);
  assert.not.ok(pidLive(srv.pid), 'nothing restored is left running');
  assert.is(listLocks().filter((t) => t === `tscr-${srv.pid}`).length, 0, 'the network is unlocked');
}));

test.run();
