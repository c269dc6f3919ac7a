// Issue 5: a real server from Debian (redis-server), with data loaded and a
// client connected, is dumped with --tcp-established, killed, and restored.
// The client's open connection and new connections are both served, and the
// data is all there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tscr, killAll, waitGone, pidLive, sleep } from './helpers/restore.ts';
import { listLocks, releaseLeftLock } from '../lib/netlock.ts';

const REDIS = '/usr/bin/redis-server';

/** A minimal RESP client over one connection. */
class Redis {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  constructor(readonly sock: Socket) {
    sock.on('data', (d) => { if (process.env.TSCR_TEST_LOG && d.length < 100) console.log('data', JSON.stringify(d.toString())); this.buf = Buffer.concat([this.buf, d]); this.waiters.splice(0).forEach((w) => w()); });
    sock.on('error', (e) => { if (process.env.TSCR_TEST_LOG) console.log('socket error', e); });
    sock.on('close', () => { if (process.env.TSCR_TEST_LOG) console.log('socket closed'); });
  }
  static open(port: number): Promise<Redis> {
    return new Promise((res, rej) => { const s = connect(port, '127.0.0.1', () => res(new Redis(s))); s.once('error', rej); });
  }
  async cmd(...args: (string | Buffer)[]): Promise<any> {
    const parts = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) { const b = Buffer.isBuffer(a) ? a : Buffer.from(a); parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')); }
    this.sock.write(Buffer.concat(parts));
    return this.reply();
  }
  private async need(n: number): Promise<void> {
    const t0 = Date.now();
    while (this.buf.length < n) {
      if (Date.now() - t0 > 60000) throw new Error('redis reply timed out');   // (the clock runs while tscr blocks this process)
      if (this.sock.destroyed) throw new Error('connection closed');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
  }
  private async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) { const l = this.buf.subarray(0, i).toString(); this.buf = this.buf.subarray(i + 2); return l; }
      await this.need(this.buf.length + 1);
    }
  }
  async reply(): Promise<any> {
    const l = await this.line();
    const t = l[0], rest = l.slice(1);
    if (t === '+') return rest;
    if (t === '-') throw new Error(rest);
    if (t === ':') return Number(rest);
    if (t === '$') {
      const n = Number(rest); if (n < 0) return null;
      await this.need(n + 2);
      const v = this.buf.subarray(0, n); this.buf = this.buf.subarray(n + 2); return v;
    }
    if (t === '*') { const n = Number(rest); const a = []; for (let i = 0; i < n; i++) a.push(await this.reply()); return a; }
    throw new Error(`bad reply ${l}`);
  }
  close() { this.sock.destroy(); }
}

test('redis-server with data and a connected client: dump, kill, restore; old and new connections served', async () => {
  if (!existsSync(REDIS)) { console.log('  skip: redis-server is not installed (apt-get install redis-server)'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'tscr-redis-'));
  const img = join(dir, 'img');
  const port = 20000 + (process.pid % 20000);
  const child = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'log')],
    { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  const pid = child.pid!;
  let c1: Redis | undefined, c2: Redis | undefined;
  try {
    for (let i = 0; i < 100; i++) { try { c1 = await Redis.open(port); break; } catch { await sleep(50); } }
    assert.ok(c1, 'redis is up');
    // data: 2000 keys, one 1 MiB value, a list
    for (let i = 0; i < 2000; i++) await c1!.cmd('SET', `key:${i}`, `value-${i * 7}`);
    const big = Buffer.alloc(1 << 20, 0); for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 255;
    await c1!.cmd('SET', 'big', big);
    await c1!.cmd('RPUSH', 'list', 'a', 'b', 'c');
    assert.is(await c1!.cmd('DBSIZE'), 2002);
    mkdirSync(img, { recursive: true });

    const d = tscr(['dump', '-t', String(pid), '-D', img, '--tcp-established'], 120000);
    assert.is(d.code, 0, d.stderr);
    assert.ok(await waitGone([pid]), 'redis was killed by the dump');
    // a request in flight while the server is gone (the network is locked)
    const pending = c1!.cmd('GET', 'key:1999');
    await sleep(200);
    const r = tscr(['restore', '-D', img, '--tcp-established', '-d'], 120000);
    assert.is(r.code, 0, r.stderr);
    assert.ok(pidLive(pid), 'redis runs again with its pid');
    assert.is(listLocks().filter((t) => t === `tscr-${pid}`).length, 0, 'unlocked');
    // the old connection: the request sent during the dump is answered, and more
    const log = (t: string) => { if (process.env.TSCR_TEST_LOG) console.log(t, execFileSync('ss', ['-tn', `sport = :${port} or dport = :${port}`]).toString()); };
    log('restored');
    assert.is(String(await pending), `value-${1999 * 7}`);
    assert.is(String(await c1!.cmd('GET', 'key:5')), 'value-35');
    const bigP = c1!.cmd('GET', 'big');
    await sleep(3000); log('3 s after GET big');
    assert.ok((await bigP).equals(big), 'the 1 MiB value over the old connection');
    log('big ok');
    // a new connection
    c2 = await Redis.open(port);
    log('c2 open');
    assert.is(await c2.cmd('DBSIZE'), 2002);
    log('c2 dbsize');
    assert.equal((await c2.cmd('LRANGE', 'list', '0', '-1')).map(String), ['a', 'b', 'c']);
    await c2.cmd('SET', 'after', 'restore');
    assert.is(String(await c1!.cmd('GET', 'after')), 'restore');
  } finally {
    c1?.close(); c2?.close();
    killAll([pid]);
    await waitGone([pid]);
    releaseLeftLock(pid);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
