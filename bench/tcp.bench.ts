// TCP migration benchmark (issue 5): what a connection costs to dump and to
// rebuild, by queue size, on loopback, in one run:
//  - network lock: one nft table with the connection's rules, then its removal
//  - dump: repair on + state + both queues (MSG_PEEK under TCP_REPAIR_QUEUE)
//  - restore: fresh socket, repair, seqs, options, refill both queues, window
//  - reference: the restored program reading the same receive queue with read(), and
//    the same bytes through base64 as the image codec stores them
// CRIU's own numbers are not comparable here: Debian's criu 3.17 cannot dump on
// this kernel (vDSO layout), see /work/shared/notes/linux-from-node.md.
import { readlinkSync, readSync, writeSync } from 'node:fs';
import { dumpInetSocket, finishInetDump, restoreInetSocket, finishInetRestore, critBase64 } from '../lib/kinds/inet.ts';
import { NetLock } from '../lib/netlock.ts';
import { check, tcpShimRaw, setSockInt, sockName } from '../shim/native.ts';

const sh = tcpShimRaw();
const lo = Buffer.alloc(16); lo[0] = 127; lo[3] = 1;
const best = (xs: number[]) => Math.min(...xs);

function pair(qbytes: number) {
  const l = check(sh.socket(2, 1, 6), 'socket');
  check(sh.sock_bind(l, 2, lo, 0, 0), 'bind'); check(sh.sock_listen(l, 4), 'listen');
  const port = sockName(l, false).port;
  const c = check(sh.socket(2, 1, 6), 'socket');
  setSockInt(c, 1, 33, 8 << 20, 'RCVBUFFORCE'); setSockInt(c, 1, 32, 32 << 20, 'SNDBUFFORCE');
  check(sh.sock_connect(c, 2, lo, port, 0), 'connect');
  let s = -1;
  for (let i = 0; i < 100 && s < 0; i++) { s = sh.sock_accept(l); }
  check(s, 'accept');
  setSockInt(s, 1, 33, 32 << 20, 'RCVBUFFORCE'); setSockInt(s, 1, 32, 32 << 20, 'SNDBUFFORCE');
  // client -> server: stays in the server's receive queue; server -> client: beyond the client's window stays in the send queue
  const inq = fill(c, qbytes);
  const outq = fill(s, qbytes);
  sh.fd_close(l);
  return { s, c, inq, outq };
}

const chunk = Buffer.alloc(1 << 16, 0x5a);
function fill(fd: number, n: number): number {
  let left = n;
  while (left > 0) {
    let w = 0;
    try { w = writeSync(fd, chunk, 0, Math.min(left, chunk.length)); } catch { break; }
    if (w <= 0) break;
    left -= w;
  }
  return n - left;
}

console.log('| queued each way | lock+unlock ms | dump ms | dump MB/s | restore ms | restore MB/s | read() of the same queue MB/s | base64 MB/s |');
console.log('|---|---|---|---|---|---|---|---|');
for (const mb of [0, 1, 4, 16]) {
  const lockT: number[] = [], dumpT: number[] = [], restT: number[] = [], peekT: number[] = [], b64T: number[] = [];
  let bytes = 0;
  for (let rep = 0; rep < 3; rep++) {
    const p = pair(mb << 20);
    bytes = p.inq + p.outq;
    let t = 0;
    // lock alone
    const lk = new NetLock(`bench${process.pid}`);
    t = performance.now();
    lk.add([{ family: 'INET', src: '127.0.0.1', sport: 1, dst: '127.0.0.1', dport: 2 }]);
    lk.release();
    lockT.push(performance.now() - t);
    // dump (includes its own lock)
    const state = new Map<string, unknown>();
    const opts = { 'tcp-established': true, rootPid: `bench${process.pid}` };
    t = performance.now();
    const r = dumpInetSocket({ pid: process.pid, fd: p.s, localFd: p.s, link: readlinkSync(`/proc/self/fd/${p.s}`), opts, log: () => {}, shared: state, info: { flags: 2 } } as any, 1);
    dumpT.push(performance.now() - t);
    const inqBytes = Buffer.from(String(r.stream.extra.inq), 'base64');
    t = performance.now();
    critBase64(inqBytes);
    b64T.push(performance.now() - t);
    // the "tree" dies: the socket closes silently in repair mode
    finishInetDump(state, { ok: true, treeKilled: true, log: () => {} });
    sh.fd_close(p.s);
    const shared = new Map<string, unknown>();
    t = performance.now();
    const fd = restoreInetSocket(r.isk, r.stream, { shared, opts, log: () => {} });
    finishInetRestore(shared, true, () => {}, { tcpEstablished: true, rootPid: `bench${process.pid}` });
    restT.push(performance.now() - t);
    // baseline: the program reading the same receive queue with plain read()s
    const rb = Buffer.alloc(1 << 20);
    t = performance.now();
    for (let got = 0; got < p.inq;) got += readSync(fd, rb, 0, Math.min(rb.length, p.inq - got), null);
    peekT.push(performance.now() - t);
    sh.tcp_repair(fd, 1); sh.fd_close(fd);
    sh.tcp_repair(p.c, 1); sh.fd_close(p.c);
  }
  const mbs = (ms: number) => (bytes && ms > 0 ? (bytes / 1e6 / (ms / 1000)).toFixed(0) : '-');
  console.log(`| ${mb} MiB | ${best(lockT).toFixed(1)} | ${best(dumpT).toFixed(1)} | ${mbs(best(dumpT))} | ${best(restT).toFixed(1)} | ${mbs(best(restT))} | ${mb ? ((bytes / 2) / 1e6 / (best(peekT) / 1000)).toFixed(0) : '-'} | ${mb ? ((bytes / 2) / 1e6 / (best(b64T) / 1000)).toFixed(0) : '-'} |`);
}
