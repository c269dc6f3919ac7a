// Issue 5: half-closed connections (FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK)
// are dumped and rebuilt with their FINs where they were: the rebuilt socket
// reads EOF exactly after the data it had, and the direction still open works.
// Both ends live in this test; one end is dumped, closed silently (as a killed
// tree's socket in repair mode), and rebuilt by the inet module.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readlinkSync } from 'node:fs';
import { check, tcpShimRaw, sockName } from '../shim/native.ts';
import { dumpInetSocket, finishInetDump, restoreInetSocket, finishInetRestore, addrFromText } from '../lib/kinds/inet.ts';
import { NetLock } from '../lib/netlock.ts';
import { readExact, writeAll, setTimeouts, closeSilently, ip4 } from './helpers/tcp.ts';
import { readSync, writeSync } from 'node:fs';

const sh = tcpShimRaw();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pair(v6 = false): { a: number; b: number } {
  const fam = v6 ? 10 : 2, addr = v6 ? addrFromText(10, '::1') : ip4('127.0.0.1');
  const l = check(sh.socket(fam, 1, 6), 'socket');
  check(sh.sock_bind(l, fam, addr, 0, 0), 'bind'); check(sh.sock_listen(l, 1), 'listen');
  const a = check(sh.socket(fam, 1, 6), 'socket');
  check(sh.sock_connect(a, fam, addr, sockName(l, false).port, 0), 'connect');
  let b = -1;
  for (let i = 0; i < 1000 && b < 0; i++) b = sh.sock_accept(l);
  check(b, 'accept');
  sh.fd_close(l);
  check(sh.fd_setfl(b, 0), 'blocking');
  setTimeouts(a, 5); setTimeouts(b, 5);
  return { a, b };
}

/** Dump fd (its connection locked), close it silently, rebuild it; returns the new fd and the state it had. */
async function migrate(fd: number, name: string): Promise<{ fd: number; state: string }> {
  const opts = { 'tcp-established': true, rootPid: `hc${process.pid}${name}` };
  const dstate = new Map<string, unknown>(), rshared = new Map<string, unknown>();
  const r = dumpInetSocket({ pid: process.pid, fd, localFd: fd, link: readlinkSync(`/proc/self/fd/${fd}`), opts, log: () => {}, shared: dstate, info: { flags: 2 } } as any, 1);
  finishInetDump(dstate, { ok: true, treeKilled: true, log: () => {} });
  closeSilently(fd);
  await sleep(50);
  const nfd = restoreInetSocket(r.isk, r.stream, { shared: rshared, opts, log: () => {} });
  finishInetRestore(rshared, true, () => {}, { tcpEstablished: true, rootPid: opts.rootPid });
  setTimeouts(nfd, 5);
  return { fd: nfd, state: r.isk.state };
}

const eof = (fd: number) => readSync(fd, Buffer.alloc(8), 0, 8, null) === 0;
const tryWrite = (fd: number) => { try { writeSync(fd, Buffer.from('x')); return 'ok'; } catch (e: any) { return e.code; } };

for (const v6 of [false, true]) test(`CLOSE_WAIT${v6 ? ' (IPv6)' : ''}: unread data, then EOF; writing back still works`, async () => {
  const { a, b } = pair(v6);
  try {
    writeAll(a, Buffer.from('last words'));
    sh.shutdown(a, 1);
    await sleep(50);
    const m = await migrate(b, v6 ? 'cw6' : 'cw');
    assert.is(m.state, 'CLOSE_WAIT');
    assert.is(readExact(m.fd, 10).toString(), 'last words');
    assert.ok(eof(m.fd), 'EOF after the data');
    writeAll(m.fd, Buffer.from('reply'));
    assert.is(readExact(a, 5).toString(), 'reply');
    sh.shutdown(m.fd, 1);
    assert.ok(eof(a), 'the peer sees our FIN later');
    closeSilently(m.fd);
  } finally { closeSilently(a); }
});

test('FIN_WAIT2: the peer can still send; our side stays shut', async () => {
  const { a, b } = pair();
  try {
    sh.shutdown(a, 1);
    await sleep(50);
    writeAll(b, Buffer.from('more'));
    await sleep(20);
    const m = await migrate(a, 'fw2');
    assert.is(m.state, 'FIN_WAIT2');
    assert.is(readExact(m.fd, 4).toString(), 'more');
    assert.is(tryWrite(m.fd), 'EPIPE', 'writing after shutdown fails as before');
    writeAll(b, Buffer.from('and more'));
    assert.is(readExact(m.fd, 8).toString(), 'and more');
    assert.ok(eof(b), 'the peer had our FIN');
    sh.shutdown(b, 1);
    assert.ok(eof(m.fd), 'and we get the peer\'s FIN');
    closeSilently(m.fd);
  } finally { closeSilently(b); }
});

test('FIN_WAIT1 and LAST_ACK: a FIN not acknowledged yet is sent again after restore', async () => {
  for (const which of ['FIN_WAIT1', 'LAST_ACK']) {
    const { a, b } = pair();
    const lk = new NetLock(`hcl${process.pid}`);
    try {
      let x = which === 'FIN_WAIT1' ? a : b;
      const y = which === 'FIN_WAIT1' ? b : a;
      if (which === 'LAST_ACK') { sh.shutdown(a, 1); await sleep(50); }       // b: CLOSE_WAIT
      const me = sockName(x, false), peer = sockName(x, true);
      lk.add([{ family: 'INET', src: '127.0.0.1', sport: me.port, dst: '127.0.0.1', dport: peer.port }]);
      writeAll(x, Buffer.from('tail'));
      sh.shutdown(x, 1);                                                      // FIN (and data) dropped: not acknowledged
      await sleep(50);
      const m = await migrate(x, which);
      x = m.fd;
      assert.is(m.state, which);
      lk.release();
      assert.is(readExact(y, 4).toString(), 'tail', `${which}: data sent before the FIN`);
      assert.ok(eof(y), `${which}: the peer gets the FIN`);
      if (which === 'FIN_WAIT1') {
        writeAll(y, Buffer.from('ok'));
        assert.is(readExact(x, 2).toString(), 'ok');
      } else assert.ok(eof(x), 'LAST_ACK: EOF as before');
      closeSilently(x);
    } finally { lk.release(); closeSilently(which === 'FIN_WAIT1' ? b : a); }
  }
});

test.run();
