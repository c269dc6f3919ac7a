// Memory write tracking (issue 7): `tscr dump -R --track-mem` arms a userfaultfd
// (WP_ASYNC) in the target; the next `dump --compress --prev` reads only the pages
// written since (PAGEMAP_SCAN PAGE_IS_WRITTEN) and takes the rest from the previous
// archive. The track fixture writes known pages between dumps (SIGUSR2 = next step)
// and checks every page after the restore of the incremental checkpoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tscr, startOwnSession, verdict, killAll, waitGone, descendants, pidLive, sleep } from './helpers/restore.ts';
import { findCriu } from './helpers/criu.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'tscr-track-state-'));
const env = { TSCR_TRACK_STATE_DIR: stateDir };
const NA = 4096; // pages of the fixture's region A

async function step(fx: { pid: number; out: string }, n: number): Promise<void> {
  process.kill(fx.pid, 'SIGUSR2');
  for (let i = 0; i < 400; i++) {
    if (existsSync(fx.out + '.step') && Number(readFileSync(fx.out + '.step', 'utf8')) >= n) return;
    if (existsSync(fx.out)) throw new Error(`fixture: ${readFileSync(fx.out, 'utf8')}`);
    await sleep(10);
  }
  throw new Error(`step ${n} did not finish`);
}

function dump(args: string[], extraEnv: Record<string, string> = {}): any {
  const r = tscr(['dump', ...args, '--json'], 60000, { ...env, ...extraEnv });
  assert.is(r.code, 0, `tscr dump ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function uffdFds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`).map(Number).filter((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[userfaultfd]'; } catch { return false; } });
}

/** Run body on a fresh `track` fixture started with args; the processes in run.pids (the body
 * updates it after a restore) are killed and the fixture's directory removed afterwards. */
async function withTrack(args: string[], body: (fx: { pid: number; out: string; dir: string }, run: { pids: number[] }) => Promise<void>): Promise<void> {
  const fx = await startOwnSession('track', args);
  const run = { pids: descendants(fx.pid) };
  try { await body(fx, run); } finally {
    killAll(run.pids);
    rmSync(fx.dir, { recursive: true, force: true });
  }
}

async function restoreAndCheck(fx: { pid: number; out: string }, arc: string, pids: number[]): Promise<number[]> {
  killAll(pids);
  assert.ok(await waitGone(pids, 8000), 'the fixture is gone before the restore');
  const r = tscr(['restore', '-D', arc, '-d', '--json'], 60000, env);
  assert.is(r.code, 0, `restore failed: ${r.stderr}`);
  const now = descendants(fx.pid);
  assert.equal(uffdFds(fx.pid), [], 'the restored process has no tracker');
  assert.is(await verdict(fx.pid, fx.out), 'PASS');
  return now;
}

test('5% written between two dumps: only the written pages are read; the chain restores and passes', async () => {
  await withTrack(['w,w1', String(NA)], async (fx, run) => {
    const base = join(fx.dir, 'base.tscr'), inc1 = join(fx.dir, 'inc1.tscr'), inc2 = join(fx.dir, 'inc2.tscr');
    const b = dump(['-t', String(fx.pid), '-R', '--track-mem', '--compress', '-D', base]);
    assert.ok(b.track.procs[0].armed, 'tracking armed');
    const fds = uffdFds(fx.pid);
    assert.is(fds.length, 1, 'one tracker fd in the target');
    assert.ok(fds[0] >= 900, `tracker at a high fd (${fds[0]})`);
    assert.ok(pidLive(fx.pid));

    await step(fx, 1); // rewrite every 20th page of A: 205 pages
    const i1 = dump(['-t', String(fx.pid), '-R', '--compress', '--prev', base, '-D', inc1]);
    const t1 = i1.track.procs[0];
    assert.is(i1.track.path, 'tracking', JSON.stringify(i1.track));
    assert.ok(t1.writtenPages >= NA / 20 && t1.writtenPages < NA / 20 + 64, `written ${t1.writtenPages}`);
    assert.ok(t1.parentPages >= NA - NA / 20 - 8, `from the parent: ${t1.parentPages}`);
    assert.is(i1.pages, t1.readPages, 'pages read = pages not taken from the parent');
    assert.ok(t1.readPages < NA / 10, `read ${t1.readPages} pages of ${NA + t1.readPages}`);
    assert.ok(i1.track.procs[0].armed, 're-armed');
    assert.equal(uffdFds(fx.pid), fds, 'the same tracker stays');

    await step(fx, 2); // rewrite one page
    const i2 = dump(['-t', String(fx.pid), '-R', '--compress', '--prev', inc1, '-D', inc2]);
    assert.is(i2.track.path, 'tracking');
    assert.ok(i2.track.procs[0].writtenPages < 40, `second round written ${i2.track.procs[0].writtenPages}`);
    const v = tscr(['validate', inc2]);
    assert.is(v.code, 0, v.stdout + v.stderr);
    // back to a CRIU directory: the pages image's hash (over page hashes) checks out, and it restores too
    const back = join(fx.dir, 'inc2.dir');
    const cv = tscr(['convert', inc2, back]);
    assert.is(cv.code, 0, cv.stderr);
    assert.ok(readdirSync(back).includes('tscr-track.json'));
    run.pids = await restoreAndCheck(fx, inc2, run.pids);
  });
});

test('CRIU directories: --prev DIR leaves unchanged pages in the parent (PE_PARENT + parent link), a chain of two restores', async () => {
  await withTrack(['w,w1', String(NA)], async (fx, run) => {
    const base = join(fx.dir, 'base'), inc1 = join(fx.dir, 'inc1'), inc2 = join(fx.dir, 'inc2');
    dump(['-t', String(fx.pid), '-R', '--track-mem', '-D', base]);
    await step(fx, 1);
    const i1 = dump(['-t', String(fx.pid), '-R', '--prev', base, '-D', inc1]);
    assert.is(i1.track.path, 'tracking', JSON.stringify(i1.track));
    assert.ok(i1.track.procs[0].readPages < NA / 10, `read ${i1.track.procs[0].readPages}`);
    assert.is(readlinkSync(join(inc1, 'parent')), '../base');
    await step(fx, 2);
    const i2 = dump(['-t', String(fx.pid), '-R', '--prev', inc1, '-D', inc2]);
    assert.is(i2.track.path, 'tracking');
    assert.ok(i2.track.procs[0].parentPages > NA - 10, 'pages the parent keeps in its own parent count too');
    const pm = JSON.parse(tscr(['decode', '-i', join(inc2, `pagemap-${fx.pid}.img`), '--pretty']).stdout);
    assert.ok(pm.entries.some((e: any) => e.flags === 'PE_PARENT'), 'PE_PARENT entries');
    const v = tscr(['validate', inc2]);
    assert.is(v.code, 0, v.stdout + v.stderr);
    killAll(run.pids);
    assert.ok(await waitGone(run.pids, 8000));
    // without its parent the restore stops with a clear error and leaves nothing behind
    const { renameSync } = await import('node:fs');
    renameSync(base, base + '.away');
    const bad = tscr(['restore', '-D', inc2, '-d'], 60000, env);
    assert.is.not(bad.code, 0);
    assert.match(bad.stderr, /parent/);
    assert.not.ok(pidLive(fx.pid), 'no process left from the failed restore');
    renameSync(base + '.away', base);
    run.pids = await restoreAndCheck(fx, inc2, []);
  });
});

test('CRIU 4 restores a chain of tscr incremental directories (PE_PARENT + parent link), if a CRIU >= 4 is here', async () => {
  const { spawnSync } = await import('node:child_process');
  const criu = findCriu();
  if (!criu) { console.log('  skip: no CRIU >= 4 here (set TSCR_CRIU)'); return; }
  await withTrack(['w,w1', String(NA)], async (fx, run) => {
    const base = join(fx.dir, 'base'), inc1 = join(fx.dir, 'inc1'), inc2 = join(fx.dir, 'inc2');
    dump(['-t', String(fx.pid), '-R', '--track-mem', '-D', base]);
    await step(fx, 1);
    dump(['-t', String(fx.pid), '-R', '--prev', base, '-D', inc1]);
    await step(fx, 2);
    const i2 = dump(['-t', String(fx.pid), '--prev', inc1, '-D', inc2]); // tree killed
    assert.is(i2.track.path, 'tracking');
    assert.ok(await waitGone(run.pids, 8000));
    const r = spawnSync(criu as string, ['restore', '-D', inc2, '-d', '-o', 'restore.log'], { encoding: 'utf8' });
    const log = existsSync(join(inc2, 'restore.log')) ? readFileSync(join(inc2, 'restore.log'), 'utf8') : '';
    assert.is(r.status, 0, `criu restore failed:\n${log.split('\n').filter((l) => l.includes('Error')).join('\n')}`);
    run.pids = descendants(fx.pid);
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  });
});

test('transparent huge pages (MADV_HUGEPAGE region): tracked, and the incremental checkpoint restores', async () => {
  await withTrack(['w', String(NA), 'thp'], async (fx, run) => {
    const base = join(fx.dir, 'base.tscr'), inc = join(fx.dir, 'inc.tscr');
    dump(['-t', String(fx.pid), '-R', '--track-mem', '--compress', '-D', base]);
    await step(fx, 1);
    const r = dump(['-t', String(fx.pid), '-R', '--compress', '--prev', base, '-D', inc]);
    assert.is(r.track.path, 'tracking', JSON.stringify(r.track));
    assert.ok(r.track.procs[0].parentPages > NA / 2, `from the parent: ${r.track.procs[0].parentPages}`);
    run.pids = await restoreAndCheck(fx, inc, run.pids);
  });
});

test('the target keeps working and layout changes are handled: mmap, munmap, mremap, mprotect, MADV_DONTNEED, fork, its own userfaultfd', async () => {
  const steps = ['mmap', 'munmap', 'mremap', 'mprotect', 'dontneed', 'fork', 'uffd', 'w'];
  await withTrack([steps.join(','), String(NA)], async (fx, run) => {
    const base = join(fx.dir, 'base.tscr'), inc = join(fx.dir, 'inc.tscr');
    dump(['-t', String(fx.pid), '-R', '--track-mem', '--compress', '-D', base]);
    for (let i = 1; i <= steps.length; i++) await step(fx, i);
    const r = dump(['-t', String(fx.pid), '-R', '--compress', '--prev', base, '-D', inc]);
    const t = r.track.procs[0];
    assert.is(r.track.path, 'tracking', JSON.stringify(r.track));
    // new region B (64), moved C (32), D (16) and the written pages are read; the rest of A is not
    assert.ok(t.readPages >= 64 + 32 + 16 + 190, `read ${t.readPages}`);
    assert.ok(t.parentPages > NA - 64 - 10 - 300, `from the parent: ${t.parentPages}`);
    run.pids = await restoreAndCheck(fx, inc, run.pids);
  });
});

test('a tree: a child forked after tracking started inherits the tracker fd (not dumped), gets its own with --track-mem', async () => {
  await withTrack(['child,w', String(NA)], async (fx, run) => {
    const base = join(fx.dir, 'base.tscr'), inc1 = join(fx.dir, 'inc1.tscr'), inc2 = join(fx.dir, 'inc2.tscr');
    dump(['-t', String(fx.pid), '-R', '--track-mem', '--compress', '-D', base]);
    await step(fx, 1);
    run.pids = descendants(fx.pid);
    assert.is(run.pids.length, 2);
    const kid = run.pids[1];
    assert.is(uffdFds(kid).length, 1, 'the child inherited the tracker fd');
    await step(fx, 2);
    const i1 = dump(['-t', String(fx.pid), '-R', '--track-mem', '--compress', '--prev', base, '-D', inc1]);
    const byPid = new Map(i1.track.procs.map((p: any) => [p.pid, p]));
    assert.is((byPid.get(fx.pid) as any).path, 'tracking');
    assert.is((byPid.get(kid) as any).path, 'hashing');
    assert.ok((byPid.get(kid) as any).armed, 'the child is tracked from now on');
    assert.is(uffdFds(kid).length, 2, 'inherited + its own');
    const i2 = dump(['-t', String(fx.pid), '-R', '--compress', '--prev', inc1, '-D', inc2]);
    assert.is(i2.track.path, 'tracking', JSON.stringify(i2.track));
    assert.ok(i2.track.procs.every((p: any) => p.readPages < NA / 10), JSON.stringify(i2.track.procs));
    run.pids = await restoreAndCheck(fx, inc2, run.pids);
  });
});

test('fallbacks give correct checkpoints: no tracker, or a tracker armed by another checkpoint -> hashing', async () => {
  await withTrack(['w,w', String(NA)], async (fx, run) => {
    const plain = join(fx.dir, 'plain.tscr'), a = join(fx.dir, 'a.tscr'), b = join(fx.dir, 'b.tscr'), c = join(fx.dir, 'c.tscr');
    dump(['-t', String(fx.pid), '-R', '--compress', '-D', plain]);
    await step(fx, 1);
    const r1 = dump(['-t', String(fx.pid), '-R', '--compress', '--prev', plain, '-D', a, '--track-mem']);
    assert.is(r1.track.path, 'hashing');
    assert.match(r1.track.procs[0].reason, /no memory tracker/);
    assert.ok(r1.archive.parentPages > NA - NA / 20 - 8, 'hashing still finds the unchanged pages');
    // another dump re-arms the tracker against itself: --prev a no longer matches
    dump(['-t', String(fx.pid), '-R', '--compress', '-D', b]);
    await step(fx, 2);
    const r2 = dump(['-t', String(fx.pid), '-R', '--compress', '--prev', a, '-D', c]);
    assert.is(r2.track.path, 'hashing');
    assert.match(r2.track.procs[0].reason, /another checkpoint/);
    assert.is(r2.pages, r2.archive.pages, 'every page read');
    // the kernel refuses the scan: every page read (and deduplicated by hash), tracking re-armed
    const r3 = dump(['-t', String(fx.pid), '-R', '--compress', '--prev', c, '-D', join(fx.dir, 'd.tscr')], { TSCR_TEST_REFUSE_WRITTEN_SCAN: '1' });
    assert.is(r3.track.path, 'hashing');
    assert.match(r3.track.procs[0].reason, /refused/);
    assert.ok(r3.track.procs[0].armed);
    run.pids = await restoreAndCheck(fx, c, run.pids);
  });
});

test('--track-mem needs -R; a dump that fails leaves no tracker behind', async () => {
  await withTrack(['', String(256)], async (fx, run) => {
    const u = tscr(['dump', '-t', String(fx.pid), '--track-mem', '-D', join(fx.dir, 'x')], 60000, env);
    assert.is.not(u.code, 0);
    assert.match(u.stderr, /--track-mem needs -R/);
    assert.ok(pidLive(fx.pid));
    const f = tscr(['dump', '-t', String(fx.pid), '-R', '--track-mem', '--compress', '-D', join(fx.dir, 'f.tscr')], 60000, { ...env, TSCR_TEST_FAIL_AFTER: 'pages' });
    assert.is.not(f.code, 0);
    assert.ok(pidLive(fx.pid), 'target running after the failed dump');
    assert.equal(uffdFds(fx.pid), [], 'no tracker left in the target');
    assert.ok(!readdirSync(stateDir).some((n) => n.startsWith(`${fx.pid}-`)), 'no tracker state');
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  });
});

test('SIGKILL to tscr mid-dump after the tracker was made: the next dumps recognise it as tscr\'s', async () => {
  const { runTscr } = await import('./helpers/fixture.ts');
  const { statSync } = await import('node:fs');
  await withTrack(['', String(NA)], async (fx, run) => {
    const dir = join(fx.dir, 'killed');
    const pages = join(dir, 'pages-1.img');
    const r = await runTscr(['dump', '-t', String(fx.pid), '-R', '--track-mem', '-D', dir], {
      env: { ...env, TSCR_TEST_SLOW_PAGES_MS: '40' },
      onSpawn: (c) => {
        const poll = setInterval(() => { if (existsSync(pages) && statSync(pages).size > 2 << 20) { clearInterval(poll); c.kill('SIGKILL'); } }, 10);
        c.on('close', () => clearInterval(poll));
      },
    });
    assert.is(r.signal, 'SIGKILL');
    assert.ok(pidLive(fx.pid));
    assert.is(uffdFds(fx.pid).length, 1, 'the tracker made before the kill is still there');
    await sleep(100);
    // a plain dump does not call it an unsupported userfaultfd; --track-mem reuses it
    dump(['-t', String(fx.pid), '-R', '-D', join(fx.dir, 'a')]);
    dump(['-t', String(fx.pid), '-R', '--track-mem', '-D', join(fx.dir, 'b')]);
    assert.is(uffdFds(fx.pid).length, 1, 'still one tracker');
    assert.is(await verdict(fx.pid, fx.out), 'PASS');
  });
});

test.after(() => rmSync(stateDir, { recursive: true, force: true }));
test.run();
