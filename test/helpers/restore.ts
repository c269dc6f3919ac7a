// Helpers for restore tests: run `tscr restore` as a subprocess, check pids,
// clean up every process a test may have left.
import { spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { SHARED_IMAGES } from './shared.ts';
import { join } from 'node:path';
import { ROOT } from '../../lib/paths.ts';
import { descendants as descendantsOf } from '../../lib/proc.ts';

export const TSCR_BIN = join(ROOT, 'bin', 'tscr.js');

export function tscr(args: string[], timeoutMs = 60000, env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TSCR_BIN, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** pid exists (in any state but fully gone). */
export function pidExists(pid: number): boolean {
  try { readFileSync(`/proc/${pid}/stat`); return true; } catch { return false; }
}

export function pidLive(pid: number): boolean {
  try { return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

export function killAll(pids: number[]) {
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until none of the pids exists (zombies reaped by init). */
export async function waitGone(pids: number[], ms = 5000): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (!pids.some(pidExists)) return true;
    await sleep(25);
  }
  return !pids.some(pidExists);
}

/** Every pid/tid a crit-JSON or decoded pstree names. */
export function treePids(pstree: any): number[] {
  const out: number[] = [];
  for (const e of pstree.entries) out.push(...(e.threads ?? [e.pid]).map(Number));
  return out;
}

/** Start a fixture (build/fixtures/NAME OUT args) in its own session; resolves once it is ready. */
export async function startOwnSession(name: string, args: string[] = [], ownSession = true): Promise<{ pid: number; out: string; dir: string }> {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, existsSync: ex } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { FIXTURES_BIN } = await import('../../lib/paths.ts');
  const dir = mkdtempSync(join(tmpdir(), `tscr-rt-${name}-`));
  const out = join(dir, `${name}.out`);
  const child = spawn(join(FIXTURES_BIN, name), [out, ...args], { detached: ownSession, stdio: 'ignore', cwd: dir });
  child.on('error', () => {});
  child.unref();
  for (let i = 0; i < 400; i++) {
    if (ex(out + '.ready')) { const s = readFileSync(out + '.ready', 'utf8'); if (s.trim()) return { pid: Number(s), out, dir }; }
    await sleep(25);
  }
  throw new Error(`fixture ${name} did not get ready`);
}

/** Send SIGUSR1 and wait for the verdict. */
export async function verdict(pid: number, out: string, ms = 10000): Promise<string> {
  const { existsSync: ex } = await import('node:fs');
  process.kill(pid, 'SIGUSR1');
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (ex(out)) { const s = readFileSync(out, 'utf8').trim(); if (s) return s; }
    await sleep(25);
  }
  return 'no verdict';
}

/** pids of a process and all its descendants (from /proc). */
export { descendants } from '../../lib/proc.ts';

const FXDIR = '/tmp/tscr-fixtures';

/**
 * Ready CRIU 4.2's reference checkpoint `name` for a restore: its binary and files
 * put where it was dumped, its old verdict removed. Null (with a skip line) when
 * the images are absent or one of its pids is taken on this machine.
 */
export async function prepareSharedCase(name: string): Promise<{ dir: string; pstree: any; pids: number[]; out: string } | null> {
  const dir = join(SHARED_IMAGES, name);
  if (!existsSync(dir)) { console.log(`  skip ${name}: ${dir} not present`); return null; }
  const pstree = JSON.parse(readFileSync(join(dir, 'crit', 'pstree.json'), 'utf8'));
  const pids = treePids(pstree);
  await waitGone(pids, 3000);
  const taken = pids.filter(pidExists);
  if (taken.length) { console.log(`  skip ${name}: pid(s) ${taken.join(', ')} taken on this machine`); return null; }
  mkdirSync(join(FXDIR, 'out'), { recursive: true });
  copyFileSync(join(dir, 'bin'), join(FXDIR, name));
  chmodSync(join(FXDIR, name), 0o755);
  for (const f of readdirSync(join(dir, 'files'))) { copyFileSync(join(dir, 'files', f), join(FXDIR, 'out', f)); chmodSync(join(FXDIR, 'out', f), 0o644); }
  const out = join(FXDIR, 'out', name);
  rmSync(out, { force: true });
  return { dir, pstree, pids, out };
}

/**
 * Start fixture `name` in its own session and dump it with tscr into <fx.dir>/img
 * (asserting the dump worked and the tree is gone; on failure it cleans up).
 * A dump that fails with an error matching skipDump is a skip (with a line): null.
 * Otherwise the caller removes fx.dir.
 */
export async function dumpFreshFixture(name: string, args: string[] = [], skipDump?: RegExp): Promise<{ fx: { pid: number; out: string; dir: string }; img: string; pids: number[] } | null> {
  const fx = await startOwnSession(name, args);
  const pids = descendantsOf(fx.pid);
  const img = join(fx.dir, 'img');
  mkdirSync(img);
  try {
    const d = tscr(['dump', '-t', String(fx.pid), '-D', img]);
    if (d.code !== 0 && skipDump?.test(d.stderr)) {
      console.log(`  skip ${name}: the dump side cannot do this yet: ${d.stderr.trim().split('\n')[0]}`);
      killAll(pids); rmSync(fx.dir, { recursive: true, force: true });
      return null;
    }
    assert.is(d.code, 0, `dump of ${name} failed: ${d.stderr}`);
    assert.ok(await waitGone(pids, 8000), `${name} still running after its dump`);
  } catch (e) {
    killAll(pids); rmSync(fx.dir, { recursive: true, force: true });
    throw e;
  }
  return { fx, img, pids };
}

/**
 * Restore CRIU 4.2's reference checkpoint `name` from the shared images (binary and
 * files put where it was dumped), check pids/ppid/pgid/sid/threads came back exactly,
 * then SIGUSR1 it and expect its own verdict PASS. Skips (with a line) when the
 * images are absent or one of its pids is taken on this machine.
 */
export async function restoreSharedImage(name: string): Promise<void> {
  const c = await prepareSharedCase(name);
  if (!c) return;
  const { dir, pstree, pids, out } = c;
  try {
    const r = tscr(['restore', '-D', join(dir, 'images'), '-d', '--json']);
    assert.is(r.code, 0, `restore ${name} failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout);
    assert.equal(res.pids, pstree.entries.map((e: any) => e.pid));
    const root = pstree.entries[0].pid;
    // pids, parents, groups and sessions came back exactly
    for (const e of pstree.entries) {
      const stat = readFileSync(`/proc/${e.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (e.ppid) assert.is(Number(f[1]), e.ppid, `ppid of ${e.pid}`);
      assert.is(Number(f[2]), e.pgid, `pgid of ${e.pid}`);
      assert.is(Number(f[3]), e.sid, `sid of ${e.pid}`);
      for (const t of e.threads) assert.ok(existsSync(`/proc/${e.pid}/task/${t}`), `thread ${t}`);
    }
    assert.is(await verdict(root, out), 'PASS', name);
  } finally {
    killAll(pids);
  }
}
