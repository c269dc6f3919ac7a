// Issue 5: both ends of a connection inside the dumped tree.
// 1. CRIU 4.2's own checkpoint of ../shared/criu-images/tcp: its INETSK and
//    TCP_STREAM entries (crit JSON) are rebuilt by the inet module; the queued
//    bytes are there and the connection works both ways.
// 2. The same program, live: tscr dumps both ends (the entries must have the
//    exact shape of CRIU's), the program is killed, both ends are restored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, mkdtempSync, rmSync, mkdirSync, copyFileSync, chmodSync, readdirSync } from 'node:fs';
import { TSCR_BIN, killAll, waitGone } from './helpers/restore.ts';
import { execFileSync, spawnSync } from 'node:child_process';
import { inNetns } from '../shim/native.ts';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpSockets, finishInetDump, finishInetRestore, restoreInetSocket, readExact, writeAll, setTimeouts, closeSilently } from './helpers/tcp.ts';
import { waitFile, sleep } from './helpers/fixture.ts';
import { listLocks } from '../lib/netlock.ts';
import { SHARED_IMAGES } from './helpers/shared.ts';

const REF = join(SHARED_IMAGES, 'tcp');
const crit = (n: string) => JSON.parse(readFileSync(join(REF, 'crit', n + '.json'), 'utf8'));

function keysDeep(o: any, p = ''): string[] {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return [p];
  return Object.keys(o).flatMap((k) => keysDeep(o[k], p ? `${p}.${k}` : k)).sort();
}

test('restore the connection of CRIU\'s tcp checkpoint (both ends)', () => {
  if (!existsSync(REF)) { console.log('skip: no reference images'); return; }
  const files = crit('files').entries.filter((e: any) => e.type === 'INETSK');
  const stream = (ino: number) => crit(`tcp-stream-${ino.toString(16)}`).entries[0];
  const shared = new Map<string, unknown>();
  const opts = { 'tcp-established': true, rootPid: `criu${process.pid}` };
  const fds: Record<number, number> = {};
  // a fresh network namespace: CRIU's fixed ports are free there whatever this host holds
  const ns = `tscr-crit${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    inNetns(`/run/netns/${ns}`, () => {
      execFileSync('ip', ['link', 'set', 'lo', 'up']);
      for (const f of files) {
        fds[f.id] = restoreInetSocket(f.isk, f.isk.state === 'ESTABLISHED' ? stream(f.isk.ino) : null, { shared, opts, log: () => {} });
      }
      finishInetRestore(shared, true, () => {});
    });
    assert.is(listLocks().filter((t) => t.includes(`criu${process.pid}`)).length, 0, 'unlocked');
    for (const fd of Object.values(fds)) setTimeouts(fd, 5);
    // the program's check: read 6 queued bytes on the accepted end, answer "back"
    assert.is(readExact(fds[6], 6).toString(), 'queued');
    writeAll(fds[6], Buffer.from('back'));
    assert.is(readExact(fds[5], 4).toString(), 'back');
    writeAll(fds[5], Buffer.from('more'));
    assert.is(readExact(fds[6], 4).toString(), 'more');
  } finally {
    finishInetRestore(shared, false, () => {});
    for (const fd of Object.values(fds)) closeSilently(fd);
    try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ }
  }
});

test('dump both ends of a live loopback connection (CRIU\'s tcp program), kill, restore', async () => {
  if (!existsSync(join(REF, 'bin'))) { console.log('skip: no reference program'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'tscr-tcpcriu-'));
  const out = join(dir, 'tcp');
  const child = spawn(join(REF, 'bin'), [out], { stdio: 'ignore' });
  child.on('error', () => {});
  const dstate = new Map<string, unknown>(), rshared = new Map<string, unknown>();
  const opts = { 'tcp-established': true, rootPid: `both${process.pid}` };
  const fds: number[] = [];
  try {
    const pid = Number((await waitFile(out + '.ready')).trim());
    const socks = dumpSockets(pid, opts, dstate);
    assert.equal(socks.map((s) => s.isk.state), ['LISTEN', 'ESTABLISHED', 'ESTABLISHED']);
    // exactly CRIU's shape
    const ref = crit('files').entries.filter((e: any) => e.type === 'INETSK');
    for (let i = 0; i < 3; i++) {
      const mine = socks[i].isk, theirs = ref[i].isk;
      assert.equal(keysDeep(mine), keysDeep(theirs), `isk keys of ${mine.state}`);
      assert.is(mine.opts.so_sndbuf > 0, true);
    }
    const refStream = crit('tcp-stream-14b925').entries[0];
    assert.equal(keysDeep(socks[2].stream), keysDeep(refStream), 'tcp-stream keys');
    assert.is(socks[2].stream.inq_len, 6);
    assert.is(socks[2].stream.extra.inq, 'cXVldWVk\n', 'queued bytes, base64 as crit prints them');
    assert.is(socks[1].isk.dst_port, socks[0].isk.src_port);
    // the two ends agree on the sequence numbers
    assert.is(socks[1].stream.outq_seq, socks[2].stream.inq_seq);
    assert.is(socks[2].stream.outq_seq, socks[1].stream.inq_seq);
    process.kill(pid, 'SIGKILL');
    finishInetDump(dstate, { ok: true, treeKilled: true, log: () => {} });
    await sleep(100);
    for (const s of socks) fds.push(restoreInetSocket(s.isk, s.stream ?? null, { shared: rshared, opts, log: () => {} }));
    finishInetRestore(rshared, true, () => {});
    assert.is(listLocks().filter((t) => t.includes(`both${process.pid}`)).length, 0, 'unlocked');
    for (const fd of fds) setTimeouts(fd, 5);
    assert.is(readExact(fds[2], 6).toString(), 'queued');
    writeAll(fds[2], Buffer.from('back'));
    assert.is(readExact(fds[1], 4).toString(), 'back');
  } finally {
    try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ }
    finishInetDump(dstate, { ok: false, treeKilled: false, log: () => {} });
    finishInetRestore(rshared, false, () => {});
    for (const fd of fds) closeSilently(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tscr restore --tcp-established of CRIU\'s tcp checkpoint: the program checks itself (PASS)', async () => {
  if (!existsSync(join(REF, 'images'))) { console.log('skip: no reference images'); return; }
  const pid = crit('pstree').entries[0].pid;
  if (existsSync(`/proc/${pid}`)) { console.log(`skip: pid ${pid} is taken`); return; }
  const FX = '/tmp/tscr-fixtures';
  mkdirSync(join(FX, 'out'), { recursive: true });
  copyFileSync(join(REF, 'bin'), join(FX, 'tcp')); chmodSync(join(FX, 'tcp'), 0o755);
  for (const f of readdirSync(join(REF, 'files'))) copyFileSync(join(REF, 'files', f), join(FX, 'out', f));
  const out = join(FX, 'out', 'tcp');
  rmSync(out, { force: true });
  // restored inside a fresh network namespace: CRIU's fixed ports are free there
  const ns = `tscr-critcli${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  const tscr = (args: string[]) => {
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, TSCR_BIN, ...args], { encoding: 'utf8', timeout: 60000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  try {
    const no = tscr(['restore', '-D', join(REF, 'images'), '-d']);
    assert.is.not(no.code, 0, 'an established connection needs the flag');
    assert.match(no.stderr, /--tcp-established/);
    assert.not.ok(existsSync(`/proc/${pid}`) && !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), 'the failed restore killed what it made');
    await waitGone([pid]);
    const r = tscr(['restore', '-D', join(REF, 'images'), '-d', '--tcp-established']);
    assert.is(r.code, 0, r.stderr);
    assert.is(listLocks(pid).filter((t) => t === `tscr-${pid}`).length, 0, 'unlocked');
    process.kill(pid, 'SIGUSR1');
    const t0 = Date.now();
    while (!existsSync(out) && Date.now() - t0 < 5000) await sleep(25);
    assert.is(readFileSync(out, 'utf8').trim(), 'PASS');
  } finally {
    killAll([pid]);
    await waitGone([pid]);
    try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ }
  }
});

test.run();
