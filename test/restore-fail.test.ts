// A restore that fails (pid taken, file missing, corrupt image) exits non-zero,
// says what failed, and leaves no process behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tscr, pidExists, killAll, waitGone, treePids, sleep, TSCR_BIN, dumpFreshFixture } from './helpers/restore.ts';
import { SHARED_IMAGES } from './helpers/shared.ts';

const SHARED = SHARED_IMAGES;
const FXDIR = '/tmp/tscr-fixtures';

/** A private copy of a reference checkpoint (crit JSON + pages), with edits. */
function copyCase(name: string, edit?: (dir: string) => void): string {
  const src = join(SHARED, name);
  const dir = mkdtempSync(join(tmpdir(), `tscr-rfail-${name}-`));
  for (const f of readdirSync(join(src, 'crit'))) copyFileSync(join(src, 'crit', f), join(dir, f));
  for (const f of readdirSync(join(src, 'images'))) if (f.startsWith('pages-')) copyFileSync(join(src, 'images', f), join(dir, f));
  mkdirSync(join(FXDIR, 'out'), { recursive: true });
  copyFileSync(join(src, 'bin'), join(FXDIR, name));
  chmodSync(join(FXDIR, name), 0o755);
  edit?.(dir);
  return dir;
}

const have = existsSync(join(SHARED, 'tree'));
const readJ = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

/**
 * Restore an edited copy of reference checkpoint `name` (its pids must be free):
 * the restore must fail, `check` looks at its stderr, and no process may be left.
 */
async function expectFailedRestore(name: string, edit: (dir: string) => void, check: (stderr: string) => void): Promise<void> {
  if (!have) return;
  const dir = copyCase(name, edit);
  const pids = treePids(readJ(join(dir, 'pstree.json')));
  try {
    await waitGone(pids, 3000);
    if (pids.some(pidExists)) { console.log('  skip: pid taken'); return; }
    const r = tscr(['restore', '-D', dir, '-d']);
    assert.is.not(r.code, 0);
    check(r.stderr);
    assert.ok(await waitGone(pids), `no process left: ${pids.filter(pidExists)}`);
  } finally { killAll(pids); rmSync(dir, { recursive: true, force: true }); }
}

test('pid taken: clear error, nothing made', async () => {
  if (!have) return;
  // Move the loop checkpoint onto our own pid, which is certainly taken.
  const me = process.pid;
  const dir = copyCase('loop', (d) => {
    const old = readJ(join(d, 'pstree.json')).entries[0].pid;
    for (const f of readdirSync(d)) {
      if (!f.endsWith('.json')) continue;
      const txt = readFileSync(join(d, f), 'utf8').replaceAll(String(old), String(me));
      rmSync(join(d, f));
      writeFileSync(join(d, f.replace(String(old), String(me))), txt);
    }
  });
  try {
    const r = tscr(['restore', '-D', dir, '-d']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, new RegExp(`pid ${me} is taken`));
    assert.match(r.stderr, /hint:/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('file missing: names the file, exits non-zero', () => expectFailedRestore('loop', (d) => {
  const files = readJ(join(d, 'files.json'));
  files.entries[0].reg.name = '/tmp/tscr-fixtures/no-such-program';
  writeFileSync(join(d, 'files.json'), JSON.stringify(files));
}, (err) => assert.match(err, /file \/tmp\/tscr-fixtures\/no-such-program is missing/)));

test('executable changed since the dump: says so, exits non-zero', () => expectFailedRestore('loop', (d) => {
  const files = readJ(join(d, 'files.json'));
  files.entries[0].reg.size = Number(files.entries[0].reg.size) + 4096;
  writeFileSync(join(d, 'files.json'), JSON.stringify(files));
}, (err) => assert.match(err, /has changed since the dump/)));

test('corrupt image (pages of the child cut short): both processes killed, clear error', () => expectFailedRestore('tree', (d) => {
  const pm = readJ(join(d, 'pagemap-21179.json'));
  truncateSync(join(d, `pages-${pm.entries[0].pages_id}.img`), 4096);
}, (err) => {
  assert.match(err, /pages image pages-\d+\.img is 4096 bytes/);
  assert.match(err, /pid 21179/);
}));

test('corrupt image (malformed JSON): error names the file', async () => {
  if (!have) return;
  const dir = copyCase('loop', (d) => writeFileSync(join(d, 'mm-20870.json'), '{"magic": "MM", "entries": [ {'));
  try {
    const r = tscr(['restore', '-D', dir, '-d']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /mm-20870\.json is not valid JSON/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('tscr killed mid-restore: every process it made dies with it', async () => {
  if (!have) return;
  const dir = copyCase('tree');
  const pids = treePids(readJ(join(dir, 'pstree.json')));
  try {
    await waitGone(pids, 3000);
    if (pids.some(pidExists)) { console.log('  skip: pid taken'); return; }
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [TSCR_BIN, 'restore', '-D', dir, '-d', '-v'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TSCR_TEST: '1', TSCR_TEST_RESTORE_STALL: 'fds-done' } });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    for (let i = 0; i < 400 && !err.includes('stalling'); i++) await sleep(25);
    assert.ok(err.includes('stalling'), err);
    assert.ok(pids.every(pidExists), 'both processes exist while tscr works');
    child.kill('SIGKILL');
    assert.ok(await waitGone(pids, 8000), `left behind: ${pids.filter(pidExists)}`);
  } finally { killAll(pids); rmSync(dir, { recursive: true, force: true }); }
});

test('corrupt binary image (a tscr dump with a damaged mm image): names file and offset, makes nothing', async () => {
  const { fx, img } = (await dumpFreshFixture('r-counter'))!;
  try {
    const mm = join(img, `mm-${fx.pid}.img`);
    const bytes = readFileSync(mm);
    writeFileSync(mm, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const r = tscr(['restore', '-D', img, '-d']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /mm-\d+\.img/);
    assert.match(r.stderr, /offset \d+/);
    assert.not.ok(pidExists(fx.pid), 'nothing was made');
  } finally { killAll([fx.pid]); rmSync(fx.dir, { recursive: true, force: true }); }
});

test('dry-run prints the plan without the shim', () => {
  if (!have) return;
  const r = tscr(['restore', '--dry-run', '-D', join(SHARED, 'tree', 'images'), '--json'], 60000, { TSCR_FORBID_SHIM: '1' });
  assert.is(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  const ops = plan.ops.map((o: any) => o.op);
  assert.is(ops[0], 'fork');
  assert.is(ops.at(-1), 'start');
  assert.ok(ops.indexOf('setsid') < ops.lastIndexOf('fork'), 'session leader made before its child');
  assert.ok(ops.lastIndexOf('fork') < ops.indexOf('mm'), 'all processes before any memory');
  assert.ok(ops.lastIndexOf('creds') > ops.lastIndexOf('fd'), 'credentials after files');
});

test.run();
