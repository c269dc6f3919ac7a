// Helpers for restore tests: run `tscr restore` as a subprocess, check pids,
// clean up every process a test may have left.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
