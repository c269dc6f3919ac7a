// A dump that fails leaves the target exactly as it was: no tracer, no extra
// mapping, same registers (its self-check passes). Covers an unsupported fd,
// failures injected after each phase, SIGTERM and SIGKILL to tscr mid-dump.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, runTscr, sleep, pidAlive } from './helpers/fixture.ts';

const tracer = (pid: number) => Number(/TracerPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const maps = (pid: number) => readFileSync(`/proc/${pid}/maps`, 'utf8');
const tmp = (n: string) => mkdtempSync(join(tmpdir(), `tscr-safety-${n}-`));

async function untouched(pid: number, before: string) {
  // the kernel detaches asynchronously when a tracer dies: give it a moment
  for (let i = 0; i < 50 && tracer(pid) !== 0; i++) await sleep(20);
  assert.is(tracer(pid), 0, 'TracerPid is 0');
  assert.is(maps(pid), before, 'no mapping added or removed');
}

test('unsupported fd (pidfd): clear error, target unharmed', async () => {
  const fx = await startFixture('unsupported');
  const dir = tmp('inotify');
  try {
    const before = maps(fx.pid);
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir]);
    assert.is(r.code, 1);
    assert.match(r.stderr, new RegExp(`unsupported: pidfd fd \\d+ of pid ${fx.pid}`));
    assert.match(r.stderr, /hint:/);
    await untouched(fx.pid, before);
    assert.is(await fx.check(), 'PASS');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test('a zombie child is recorded (task_state 2, exit status) and left as it was with -R', async () => {
  const fx = await startFixture('unsupported', ['zombie']);
  const dir = tmp('zombie');
  try {
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R', '--json']);
    assert.is(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.is(res.zombies.length, 1);
    const z = res.zombies[0];
    const { readImage } = await import('./helpers/images.ts');
    const ps = (await readImage(dir, 'pstree.img')).entries;
    assert.equal(ps.find((e: any) => e.pid === z), { pid: z, ppid: fx.pid, pgid: fx.pid, sid: fx.pid, threads: [z] });
    const tc = (await readImage(dir, `core-${z}.img`)).entries[0].tc;
    assert.is(tc.task_state, 2);
    assert.is(tc.exit_code, 7 << 8, 'wait status of _exit(7)');
    assert.match(readFileSync(`/proc/${z}/stat`, 'utf8'), /\) Z /, 'still a zombie');
    assert.is(await fx.check(), 'PASS', 'the parent reaps it with status 7');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test('seccomp filter: dumped (-R), target left running with its filter active', async () => {
  // r-seccomp: getppid() -> EPERM; its self-check after the dump sees the filter still acting
  const fx = await startFixture('r-seccomp');
  const dir = tmp('seccomp');
  try {
    const before = maps(fx.pid);
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R']);
    assert.is(r.code, 0, r.stderr);
    const { readImage } = await import('./helpers/images.ts');
    const filters = (await readImage(dir, 'seccomp.img')).entries[0].seccomp_filters;
    assert.is(filters.length, 1);
    assert.is(Buffer.from(filters[0].filter, 'base64').length, 4 * 8, 'four BPF instructions');
    const tcore = (await readImage(dir, `core-${fx.pid}.img`)).entries[0].thread_core;
    assert.is(tcore.seccomp_mode, 'filter');
    assert.is(tcore.seccomp_filter, 0);
    assert.is(tcore.creds.no_new_privs, 1);
    await untouched(fx.pid, before);
    assert.is(await fx.check(), 'PASS');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test('--json error output on failure', async () => {
  const fx = await startFixture('unsupported');
  const dir = tmp('json');
  try {
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '--json']);
    assert.is(r.code, 1);
    const j = JSON.parse(r.stdout);
    assert.is(j.error, 'E_UNSUPPORTED');
    assert.is(j.pid, fx.pid);
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

for (const phase of ['inject', 'pages', 'write']) {
  test(`failure after the ${phase} phase leaves the target as it was`, async () => {
    const fx = await startFixture('signals');
    const dir = tmp(phase);
    try {
      const before = maps(fx.pid);
      const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir], { env: { TSCR_TEST_FAIL_AFTER: phase } });
      assert.is(r.code, 1, r.stderr);
      await untouched(fx.pid, before);
      assert.not.ok(existsSync(join(dir, 'pages-1.img')), 'no half-written pages left');
      assert.is(await fx.check(), 'PASS', 'signal state (pending, timers, handlers) intact');
    } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
  });
}

test('an unreadable region fails the dump with its address; target unharmed', async () => {
  const fx = await startFixture('memory', ['4']);
  const dir = tmp('unreadable');
  try {
    const before = maps(fx.pid);
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir], { env: { TSCR_TEST_UNREADABLE_AT: '0x1000' } });
    assert.is(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot read memory at 0x1000 of pid ${fx.pid}`));
    await untouched(fx.pid, before);
    assert.not.ok(existsSync(join(dir, 'pages-1.img')), 'no half-written pages left');
    assert.is(await fx.check(), 'PASS');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

async function midDump(sig: 'SIGTERM' | 'SIGKILL') {
  const fx = await startFixture('memory', ['64']);
  const dir = tmp(sig);
  try {
    const before = maps(fx.pid);
    const pages = join(dir, 'pages-1.img');
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir], {
      env: { TSCR_TEST_SLOW_PAGES_MS: '40' },
      onSpawn: (c) => {
        const poll = setInterval(() => {
          if (existsSync(pages) && statSync(pages).size > 2 << 20) { clearInterval(poll); c.kill(sig); }
        }, 10);
        c.on('close', () => clearInterval(poll));
      },
    });
    if (sig === 'SIGTERM') {
      assert.is(r.code, 1, `exit code (stderr: ${r.stderr})`);
      assert.match(r.stderr, /interrupted/);
    } else {
      assert.is(r.signal, 'SIGKILL');
    }
    assert.ok(pidAlive(fx.pid), 'target still alive');
    await untouched(fx.pid, before);
    assert.is(await fx.check(), 'PASS');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
}

test('a signal sent to the target during the dump reaches it afterwards (-R)', async () => {
  const fx = await startFixture('memory', ['32']);
  const dir = tmp('sigmid');
  try {
    const pages = join(dir, 'pages-1.img');
    let sent = false;
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R'], {
      env: { TSCR_TEST_SLOW_PAGES_MS: '20' },
      onSpawn: (c) => {
        const poll = setInterval(() => {
          if (!sent && existsSync(pages) && statSync(pages).size > 1 << 20) { sent = true; clearInterval(poll); process.kill(fx.pid, 'SIGUSR1'); }
        }, 5);
        c.on('close', () => clearInterval(poll));
      },
    });
    assert.is(r.code, 0, r.stderr);
    assert.ok(sent, 'the signal was sent mid-dump');
    const { waitFile } = await import('./helpers/fixture.ts');
    assert.is((await waitFile(fx.out, 10000)).trim(), 'PASS', 'the fixture got SIGUSR1 after the dump and checked itself');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test('SIGTERM to tscr mid-dump: target detached and unharmed', () => midDump('SIGTERM'));
test('SIGKILL to tscr mid-dump: target detached and unharmed', () => midDump('SIGKILL'));

test('without --leave-running the tree is killed after the dump', async () => {
  const fx = await startFixture('tree');
  const dir = tmp('kill');
  try {
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir]);
    assert.is(r.code, 0, r.stderr);
    for (let i = 0; i < 50 && pidAlive(fx.pid); i++) await sleep(20);
    assert.not.ok(pidAlive(fx.pid), 'root killed');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test('a stopped (SIGSTOP) process stays stopped after dump -R and is recorded as Stopped', async () => {
  const fx = await startFixture('loop');
  const dir = tmp('stopped');
  try {
    process.kill(fx.pid, 'SIGSTOP');
    for (let i = 0; i < 50 && !/State:\s+T/.test(readFileSync(`/proc/${fx.pid}/status`, 'utf8')); i++) await sleep(10);
    const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R']);
    assert.is(r.code, 0, r.stderr);
    await sleep(100);
    assert.match(readFileSync(`/proc/${fx.pid}/status`, 'utf8'), /State:\s+T \(stopped\)/);
    const { readImage } = await import('./helpers/images.ts');
    const tc = (await readImage(dir, `core-${fx.pid}.img`)).entries[0].tc;
    // CRIU's TASK_STOPPED is 3, which crit (and so the codec) labels 'Zombie'
    assert.ok(tc.task_state === 3 || tc.task_state === 'Zombie', `task_state ${tc.task_state}`);
    assert.is(tc.stop_signo, 19);
    process.kill(fx.pid, 'SIGCONT');
    assert.is(await fx.check(), 'PASS');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test('a program on a terminal: unsupported tty without --shell-job (with a hint), dumped with it', async () => {
  const dir = tmp('tty');
  const out = join(dir, 'loop.out');
  const { spawn } = await import('node:child_process');
  const { FIXTURES_BIN } = await import('../lib/paths.ts');
  const sc = spawn('script', ['-qc', `exec ${FIXTURES_BIN}/loop ${out}`, '/dev/null'], { stdio: 'ignore', detached: true });
  sc.on('error', () => {});
  let pid = 0;
  try {
    for (let i = 0; i < 200 && !existsSync(out + '.ready'); i++) await sleep(20);
    if (!existsSync(out + '.ready')) { console.log('  skip: no `script` to make a terminal'); return; }
    pid = Number(readFileSync(out + '.ready', 'utf8'));
    const a = await runTscr(['dump', '-t', String(pid), '-D', join(dir, 'a'), '-R']);
    assert.is(a.code, 1);
    assert.match(a.stderr, /unsupported: tty fd 0/, a.stderr);
    assert.match(a.stderr, /--shell-job/, a.stderr);
    const b = await runTscr(['dump', '-t', String(pid), '-D', join(dir, 'b'), '-R', '--shell-job']);
    assert.is(b.code, 0, b.stderr);
    assert.is(tracer(pid), 0);
    process.kill(pid, 'SIGUSR1');
    for (let i = 0; i < 100 && !existsSync(out); i++) await sleep(20);
    assert.is(readFileSync(out, 'utf8'), 'PASS');
  } finally {
    if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    try { process.kill(-sc.pid!, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pid that does not exist: clear error', async () => {
  const dir = tmp('nopid');
  try {
    const r = await runTscr(['dump', '-t', '999999999', '-D', dir]);
    assert.is(r.code, 1);
    assert.match(r.stderr, /no process with pid 999999999/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();
