// tscr restore without -d waits for the restored root and exits with its
// status; --pidfile; tscr demo (the README quick start).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tscr, TSCR_BIN, startOwnSession, killAll, waitGone, sleep } from './helpers/restore.ts';

async function dumped(name: string) {
  const fx = await startOwnSession(name);
  const img = join(fx.dir, 'img');
  mkdirSync(img);
  const d = tscr(['dump', '-t', String(fx.pid), '-D', img]);
  assert.is(d.code, 0, d.stderr);
  await waitGone([fx.pid], 8000);
  return { ...fx, img };
}

function runRestore(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> & { child: any } {
  const child = spawn(process.execPath, [TSCR_BIN, 'restore', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const p: any = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  p.child = child;
  return p;
}

async function waitFor(path: string, ms = 10000): Promise<string> {
  for (let t = 0; t < ms; t += 25) { if (existsSync(path)) { const s = readFileSync(path, 'utf8').trim(); if (s) return s; } await sleep(25); }
  return '';
}

test('without -d: waits for the root and exits with its status; --pidfile', async () => {
  const fx = await dumped('r-counter');
  const pidfile = join(fx.dir, 'pid');
  try {
    const run = runRestore(['-D', fx.img, '--pidfile', pidfile]);
    assert.is(Number(await waitFor(pidfile)), fx.pid);
    await sleep(300);
    process.kill(fx.pid, 'SIGUSR1');
    const r = await run;
    assert.is(r.code, 0, r.stderr);
    assert.is(await waitFor(fx.out), 'PASS');
  } finally { killAll([fx.pid]); rmSync(fx.dir, { recursive: true, force: true }); }
});

test('without -d: a root killed by a signal gives 128+signal', async () => {
  const fx = await dumped('r-counter');
  const pidfile = join(fx.dir, 'pid');
  try {
    const run = runRestore(['-D', fx.img, '--pidfile', pidfile]);
    assert.is(Number(await waitFor(pidfile)), fx.pid);
    process.kill(fx.pid, 'SIGTERM');
    const r = await run;
    assert.is(r.code, 128 + 15, r.stderr);
  } finally { killAll([fx.pid]); rmSync(fx.dir, { recursive: true, force: true }); }
});

test('tscr demo runs end to end', () => {
  const r = tscr(['demo', '--json', '--seconds', '0.6'], 60000);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const s = JSON.parse(r.stdout);
  assert.ok(s.ok);
  assert.is(s.firstTickAfter, s.tickAtDump + 1);
  assert.is(s.selfCheck, 'PASS');
  assert.ok(!existsSync(s.dir), 'demo cleaned up');
});

test('--shell-job: a root that is not a session leader joins our session and group', async () => {
  const fx = await startOwnSession('loop', [], false);
  const img = join(fx.dir, 'img');
  mkdirSync(img);
  try {
    const d = tscr(['dump', '-t', String(fx.pid), '-D', img, '--shell-job']);
    assert.is(d.code, 0, d.stderr);
    await waitGone([fx.pid], 8000);
    const bad = tscr(['restore', '-D', img, '-d']);
    assert.is.not(bad.code, 0);
    assert.match(bad.stderr, /session/);
    assert.match(bad.stderr, /--shell-job/);
    const r = tscr(['restore', '-D', img, '-d', '--shell-job']);
    assert.is(r.code, 0, r.stderr);
    const stat = readFileSync(`/proc/${fx.pid}/stat`, 'utf8').slice(readFileSync(`/proc/${fx.pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    const mine = readFileSync('/proc/self/stat', 'utf8');
    const me = mine.slice(mine.lastIndexOf(')') + 2).split(' ');
    assert.is(stat[3], me[3], 'same session as before');
    assert.is(stat[2], me[2], 'same group as before');
    process.kill(fx.pid, 'SIGUSR1');
    assert.is(await waitFor(fx.out), 'PASS');
  } finally { killAll([fx.pid]); rmSync(fx.dir, { recursive: true, force: true }); }
});

test.run();
