// Helpers for restore tests: run `tscr restore` as a subprocess, check pids,
// clean up every process a test may have left.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../lib/paths.ts';

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
export function descendants(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const pp = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      (kids.get(pp) ?? kids.set(pp, []).get(pp)!).push(Number(d));
    } catch { /* gone */ }
  }
  const out: number[] = [];
  const walk = (p: number) => { out.push(p); for (const k of kids.get(p) ?? []) walk(k); };
  walk(pid);
  return out;
}
