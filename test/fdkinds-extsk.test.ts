// Unix sockets connected to a peer outside the dumped tree: refused with a
// clear error naming the fd and pid (the process keeps running), and with
// --ext-unix-sk dumped and restored connected to the same names again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tscr, startOwnSession, verdict, killAll, waitGone, descendants, pidLive, sleep } from './helpers/restore.ts';
import { fdsShim, ptraceShimRaw } from '../shim/native.ts';

const AF_UNIX = 1, SOCK_STREAM = 1, SOCK_DGRAM = 2, NONBLOCK = 0o4000;

function peek(fd: number, stream = 0): string[] {
  const buf = Buffer.alloc(1 << 16), lens = new Int32Array(64), n = new Int32Array(1);
  const r = Number(fdsShim().sk_peek(fd, stream, buf, buf.length, lens, 64, n));
  if (r < 0) return [];
  const out: string[] = [];
  let off = 0;
  for (let i = 0; i < n[0]; i++) { out.push(buf.subarray(off, off + lens[i]).toString()); off += lens[i]; }
  return out;
}

test('external unix peers: refused without --ext-unix-sk, reconnected by name with it', async () => {
  const f = fdsShim();
  const name = `tscr-ext-${process.pid}`;
  const nameBuf = (s: string) => Buffer.concat([Buffer.from([0]), Buffer.from(s)]);
  const dg = f.socket(AF_UNIX, SOCK_DGRAM, 0);
  const ls = f.socket(AF_UNIX, SOCK_STREAM, 0);
  const mine = [dg, ls];
  assert.is(f.bind_un(dg, nameBuf(name), name.length + 1), 0);
  assert.is(f.bind_un(ls, nameBuf(name + '-s'), name.length + 3), 0);
  assert.is(f.sk_listen(ls, 8), 0);
  f.fcntl(ls, 4 /* F_SETFL */, NONBLOCK);
  const fx = await startOwnSession('fd-extsk', [name]);
  let pids = descendants(fx.pid);
  const img = join(fx.dir, 'img');
  mkdirSync(img);
  try {
    const bad = tscr(['dump', '-t', String(fx.pid), '-D', img]);
    assert.is(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`unsupported: unix socket fd 2[01] of pid ${fx.pid} \\(inode \\d+\\) is connected to .*outside the dumped processes`));
    assert.match(bad.stderr, /--ext-unix-sk/);
    assert.ok(pidLive(fx.pid), 'the refused dump left the process running');
    const d = tscr(['dump', '-t', String(fx.pid), '-D', img, '--ext-unix-sk']);
    assert.is(d.code, 0, d.stderr);
    assert.ok(await waitGone(pids, 8000));
    const r = tscr(['restore', '-D', img, '-d', '--ext-unix-sk']);
    assert.is(r.code, 0, r.stderr);
    pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
    assert.ok(peek(dg).includes('dgram-after'), 'datagram from the restored socket');
    let seen = false;
    for (let i = 0; i < 20 && !seen; i++) {
      const c = f.accept(ls, NONBLOCK);
      if (c < 0) { await sleep(25); continue; }
      mine.push(c);
      for (let k = 0; k < 20 && !seen; k++) { seen = peek(c, 1).join('').includes('stream-after'); if (!seen) await sleep(10); }
    }
    assert.ok(seen, 'stream bytes from the restored socket on a new connection');
  } finally {
    killAll(pids);
    for (const s of mine) ptraceShimRaw().close(s);
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test('a unix socket with file descriptors in flight: clear error, the program untouched', async () => {
  const fx = await startOwnSession('fd-inflight');
  const img = join(fx.dir, 'img');
  mkdirSync(img);
  try {
    const r = tscr(['dump', '-t', String(fx.pid), '-D', img]);
    assert.is(r.code, 1);
    assert.match(r.stderr, new RegExp(`unsupported: unix socket with file descriptors in flight \\(SCM_RIGHTS\\) fd 21 of pid ${fx.pid}`));
    assert.match(r.stderr, /hint:/);
    assert.ok(pidLive(fx.pid));
    assert.is(await verdict(fx.pid, fx.out), 'PASS', 'the fd in flight is still there, once');
  } finally {
    killAll([fx.pid]);
    rmSync(fx.dir, { recursive: true, force: true });
  }
});

test.run();
