// Issue 5: a client outside the dumped tree keeps its connection while the
// server's sockets are dumped (repair mode, network locked), the server killed,
// and the sockets rebuilt (here in the test process, through the fd-kind
// module's restore(), as the restore engine calls it). No byte lost or
// duplicated in either direction, including data in flight during the dump.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync } from 'node:fs';
import { sleep } from './helpers/fixture.ts';
import {
  dumpSockets, finishInetDump, finishInetRestore, restoreInetSocket, rawClient, pattern, ip4, setTimeouts,
  startServer, readExact, writeAll,
} from './helpers/tcp.ts';
import { listLocks } from '../lib/netlock.ts';
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

test.run();
