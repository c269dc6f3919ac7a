// Real runtimes: checkpoint and restore this machine's own node and python3,
// each running a small script (test/runtimes/) that holds data, fires timers
// and holds pipes, unix sockets, eventfd, memfd, epoll; after restore each
// checks itself (PASS) and its timers still fire.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../lib/paths.ts';
import { tscr, verdict, killAll, waitGone, descendants, sleep } from './helpers/restore.ts';

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function runtime(interp: string, script: string) {
  const bin = which(interp);
  if (!bin) { console.log(`  skip: no ${interp} on this machine`); return; }
  const dir = mkdtempSync(join(tmpdir(), `tscr-rt-${interp}-`));
  const out = join(dir, 'hold.out');
  const child = spawn(bin, [join(ROOT, 'test', 'runtimes', script), out], { detached: true, stdio: 'ignore', cwd: dir });
  child.on('error', () => {});
  child.unref();
  let pids: number[] = [];
  try {
    let pid = 0;
    for (let i = 0; i < 400 && !pid; i++) { await sleep(25); if (existsSync(out + '.ready')) pid = Number(readFileSync(out + '.ready', 'utf8')); }
    assert.ok(pid > 0, `${interp} did not get ready`);
    pids = descendants(pid);
    const img = join(dir, 'img');
    mkdirSync(img);
    const d = tscr(['dump', '-t', String(pid), '-D', img]);
    assert.is(d.code, 0, `dump of ${interp} failed: ${d.stderr}`);
    assert.ok(await waitGone(pids, 8000), 'dump killed it');
    const r = tscr(['restore', '-D', img, '-d']);
    assert.is(r.code, 0, `restore of ${interp} failed: ${r.stderr}`);
    pids = descendants(pid);
    assert.is(await verdict(pid, out), 'PASS');
  } finally {
    killAll(pids);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('python3 with data, itimer, socketpair queues, pipe, eventfd, memfd, epoll', () => runtime('python3', 'hold.py'));
test('node with data, timers, a unix socket server and client', () => runtime('node', 'hold.cjs'));

test.run();
