// A restore that fails (pid taken, file missing, corrupt image) exits non-zero,
// says what failed, and leaves no process behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tscr, pidExists, killAll, waitGone, treePids } from './helpers/restore.ts';

const SHARED = process.env.TSCR_SHARED ?? '/work/shared/criu-images';
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

test('file missing: names the file, exits non-zero', async () => {
  if (!have) return;
  const dir = copyCase('loop', (d) => {
    const files = readJ(join(d, 'files.json'));
    files.entries[0].reg.name = '/tmp/tscr-fixtures/no-such-program';
    writeFileSync(join(d, 'files.json'), JSON.stringify(files));
  });
  const pids = treePids(readJ(join(dir, 'pstree.json')));
  try {
    await waitGone(pids, 3000);
    if (pids.some(pidExists)) { console.log('  skip: pid taken'); return; }
    const r = tscr(['restore', '-D', dir, '-d']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /file \/tmp\/tscr-fixtures\/no-such-program is missing/);
    assert.ok(await waitGone(pids), 'no process left');
  } finally { killAll(pids); rmSync(dir, { recursive: true, force: true }); }
});

test('corrupt image (pages of the child cut short): both processes killed, clear error', async () => {
  if (!have) return;
  const dir = copyCase('tree', (d) => {
    const pm = readJ(join(d, 'pagemap-21179.json'));
    truncateSync(join(d, `pages-${pm.entries[0].pages_id}.img`), 4096);
  });
  const pids = treePids(readJ(join(dir, 'pstree.json')));
  try {
    await waitGone(pids, 3000);
    if (pids.some(pidExists)) { console.log('  skip: pid taken'); return; }
    const r = tscr(['restore', '-D', dir, '-d']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /pages image pages-\d+\.img is 4096 bytes/);
    assert.match(r.stderr, /pid 21179/);
    assert.ok(await waitGone(pids), `no process left: ${pids.filter(pidExists)}`);
  } finally { killAll(pids); rmSync(dir, { recursive: true, force: true }); }
});

test('corrupt image (malformed JSON): error names the file', async () => {
  if (!have) return;
  const dir = copyCase('loop', (d) => writeFileSync(join(d, 'mm-20870.json'), '{"magic": "MM", "entries": [ {'));
  try {
    const r = tscr(['restore', '-D', dir, '-d']);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /mm-20870\.json is not valid JSON/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
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
