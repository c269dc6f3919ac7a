// Issue 5: a client outside the dumped tree keeps its connection while the
// server's sockets are dumped (repair mode, network locked), the server killed,
// and the sockets rebuilt (here in the test process, through the fd-kind
// module's restore(), as the restore engine calls it). No byte lost or
// duplicated in either direction, including data in flight during the dump.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { sleep } from './helpers/fixture.ts';
import {
  dumpSockets, finishInetDump, finishInetRestore, restoreInetSocket, rawClient, pattern, ip4, setTimeouts,
  startServer, readExact, writeAll,
} from './helpers/tcp.ts';
import { listLocks, NetLock } from '../lib/netlock.ts';
import { addrFromText } from '../lib/kinds/inet.ts';
import { sockName } from '../shim/native.ts';
import { getSockInt } from '../shim/native.ts';

test('established connection survives dump, kill, restore (client outside the tree)', async () => {
  const srv = await startServer(['127.0.0.1', '0', String(4 << 20)], (port) => rawClient('INET', ip4('127.0.0.1'), port, 8192));
  const client = srv.client;
  const opened: number[] = [client];
  const lockName = `t${process.pid}`;
  const opts = { 'tcp-established': true, rootPid: lockName };
  const dstate = new Map<string, unknown>(), rshared = new Map<string, unknown>();
  let restored: number[] = [];
  try {
    const sent = srv.sent;
    // client -> server data the server never reads: its receive queue
    const before = pattern(0, 30000, 13, 5);
    writeAll(client, before);
    // the client reads a little of the server's stream first
    const head = readExact(client, 1000);
    assert.ok(head.equals(pattern(0, 1000)), 'first bytes from the server');
    await sleep(50);

    const log: string[] = [];
    if (process.env.TSCR_TEST_LOG) process.on('exit', () => console.log(log.join('\n')));
    const socks = dumpSockets(srv.pid, opts, dstate, log);
    const est = socks.find((s) => s.isk.state === 'ESTABLISHED');
    const lst = socks.find((s) => s.isk.state === 'LISTEN');
    assert.ok(est && lst, 'a listening and an established socket were dumped');
    assert.is(est!.isk.src_addr[0], '127.0.0.1');
    assert.is(est!.isk.opts.so_keepalive, true);
    assert.is(est!.isk.tcp_opts.nodelay, true);
    assert.is(lst!.isk.opts.reuseaddr, true);
    assert.is(est!.stream.inq_len, before.length, 'the unread client data is in the receive queue');
    assert.ok(est!.stream.outq_len > 0, 'the server has data in its send queue');
    // the client's kernel holds what it acknowledged; the server's send queue the rest
    assert.ok(est!.stream.outq_len <= sent - 1000, 'outq within what was sent');
    assert.ok(listLocks().includes(`tscr-${lockName}`), 'network locked');

    // in flight: sent by the client while the server is locked away
    const inflight = pattern(30000, 5000, 13, 5);
    writeAll(client, inflight);

    // the dumped tree is killed; its sockets close silently in repair mode
    srv.kill();
    finishInetDump(dstate, { ok: true, treeKilled: true, log: () => {} });
    assert.ok(listLocks().includes(`tscr-${lockName}`), 'lock kept until restore');
    await sleep(300);

    // restore: listener first, then the connection
    const rlog: string[] = [];
    const rctx = { shared: rshared, opts, log: (t: string) => rlog.push(t) };
    restored = [restoreInetSocket(lst!.isk, null, rctx), restoreInetSocket(est!.isk, est!.stream, rctx)];
    finishInetRestore(rshared, true, () => {});
    assert.not.ok(listLocks().includes(`tscr-${lockName}`), 'network unlocked after restore');
    const s = restored[1];
    setTimeouts(s, 10);
    assert.is(getSockInt(s, 1, 9, 'SO_KEEPALIVE'), 1, 'SO_KEEPALIVE restored');
    assert.is(getSockInt(s, 6, 1, 'TCP_NODELAY'), 1, 'TCP_NODELAY restored');

    // server side: everything the client sent, once, in order (queue + in flight)
    const got = readExact(s, before.length + inflight.length);
    assert.ok(got.equals(Buffer.concat([before, inflight])), 'client -> server bytes intact');
    // client side: the rest of the server's stream, once, in order
    const rest = readExact(client, sent - 1000);
    assert.ok(rest.equals(pattern(1000, sent - 1000)), 'server -> client bytes intact');
    // and the connection keeps working both ways
    writeAll(s, Buffer.from('after restore'));
    assert.is(readExact(client, 13).toString(), 'after restore');
    writeAll(client, Buffer.from('ping'));
    assert.is(readExact(s, 4).toString(), 'ping');
    // the restored listener accepts new connections
    const c2 = rawClient('INET', ip4('127.0.0.1'), lst!.isk.src_port);
    opened.push(c2);
  } finally {
    srv.kill();
    finishInetDump(dstate, { ok: false, treeKilled: false, log: () => {} });
    finishInetRestore(rshared, false, () => {});
    for (const fd of [...opened, ...restored]) { try { closeSync(fd); } catch { /* closed */ } }
  }
});

test('IPv6: data sent but not acknowledged when the network was locked is retransmitted after restore', async () => {
  const lo6 = addrFromText(10, '::1');
  const srv = await startServer(['::1', '0', '1000'], (port) => rawClient('INET6', lo6, port));
  const client = srv.client;
  const lockName = `t6${process.pid}`;
  const opts = { 'tcp-established': true, rootPid: lockName };
  const dstate = new Map<string, unknown>(), rshared = new Map<string, unknown>();
  const pre = new NetLock(lockName);
  const ackTable = `tscr-t6ack${process.pid}`;
  let restored: number[] = [];
  try {
    assert.ok(readExact(client, 1000).equals(pattern(0, 1000)), 'first 1000 bytes');
    const me = sockName(client, false), peer = sockName(client, true);
    // drop only the client's acknowledgments, then make the server send: its
    // segments reach the client but the server never sees them acknowledged
    void pre;
    execFileSync('nft', ['-f', '-'], { input: `table inet ${ackTable} {\n chain in {\n type filter hook input priority -160; policy accept;\n ip6 saddr ::1 tcp sport ${me.port} tcp dport ${peer.port} drop\n }\n}\n` });
    process.kill(srv.pid, 'SIGUSR2');
    const t0 = Date.now();
    while (Number(require_sent(srv.out)) < 4000 && Date.now() - t0 < 5000) await sleep(20);
    await sleep(50);
    writeAll(client, Buffer.from('client-before-dump'));   // in flight too: dropped, retransmitted later
    const socks = dumpSockets(srv.pid, opts, dstate);
    const est = socks.find((s) => s.isk.state === 'ESTABLISHED')!;
    assert.is(est.isk.family, 'INET6');
    assert.is(est.isk.src_addr[0], '::1');
    assert.is(est.stream.outq_len, 3000, 'three thousand bytes sent and not acknowledged');
    assert.is(est.stream.unsq_len, 0, 'all of them were sent');
    assert.is(est.stream.inq_len, 0);
    srv.kill();
    finishInetDump(dstate, { ok: true, treeKilled: true, log: () => {} });
    execFileSync('nft', ['delete', 'table', 'inet', ackTable]);
    await sleep(200);
    const rctx = { shared: rshared, opts, log: () => {} };
    restored = [restoreInetSocket(est.isk, est.stream, rctx)];
    finishInetRestore(rshared, true, () => {});
    assert.not.ok(listLocks().includes(`tscr-${lockName}`), 'network unlocked');
    const s = restored[0];
    setTimeouts(s, 10);
    assert.ok(readExact(client, 3000).equals(pattern(1000, 3000)), 'the unacknowledged bytes arrive once (the client already had them)');
    assert.is(readExact(s, 18).toString(), 'client-before-dump');
    writeAll(s, Buffer.from('v6 ok'));
    assert.is(readExact(client, 5).toString(), 'v6 ok');
  } finally {
    srv.kill();
    try { execFileSync('nft', ['delete', 'table', 'inet', ackTable], { stdio: 'ignore' }); } catch { /* gone */ }
    finishInetDump(dstate, { ok: false, treeKilled: false, log: () => {} });
    finishInetRestore(rshared, false, () => {});
    for (const fd of [client, ...restored]) { try { closeSync(fd); } catch { /* closed */ } }
  }
});

test('dual-stack: an IPv4 client of an IPv6 listener (v4-mapped addresses) migrates too', async () => {
  const srv = await startServer(['::', '0', '200000'], (port) => rawClient('INET', ip4('127.0.0.1'), port, 8192));
  const client = srv.client;
  const opts = { 'tcp-established': true, rootPid: `tds${process.pid}` };
  const dstate = new Map<string, unknown>(), rshared = new Map<string, unknown>();
  let restored: number[] = [];
  try {
    writeAll(client, Buffer.from('mapped'));
    await sleep(50);
    const est = dumpSockets(srv.pid, opts, dstate).find((x) => x.isk.state === 'ESTABLISHED')!;
    assert.is(est.isk.family, 'INET6');
    assert.is(est.isk.src_addr[0], '::ffff:127.0.0.1');
    srv.kill();
    finishInetDump(dstate, { ok: true, treeKilled: true, log: () => {} });
    writeAll(client, Buffer.from('+flight'));
    await sleep(100);
    restored = [restoreInetSocket(est.isk, est.stream, { shared: rshared, opts, log: () => {} })];
    finishInetRestore(rshared, true, () => {});
    setTimeouts(restored[0], 10);
    assert.is(readExact(restored[0], 13).toString(), 'mapped+flight');
    assert.ok(readExact(client, srv.sent).equals(pattern(0, srv.sent)));
    writeAll(restored[0], Buffer.from('v4 via v6'));
    assert.is(readExact(client, 9).toString(), 'v4 via v6');
  } finally {
    srv.kill();
    finishInetDump(dstate, { ok: false, treeKilled: false, log: () => {} });
    finishInetRestore(rshared, false, () => {});
    for (const fd of [client, ...restored]) { try { closeSync(fd); } catch { /* closed */ } }
  }
});

function require_sent(out: string): number {
  try { return Number(readFileSync(out + '.sent', 'utf8').trim()); } catch { return 0; }
}

test.run();
