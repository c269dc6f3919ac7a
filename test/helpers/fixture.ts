// Start self-checking fixtures (fixtures/*.c, protocol of fixtures/fx.h) for tests.
//   const fx = await startFixture('memory');   // waits for OUTFILE.ready
//   ... tscr dump -t fx.pid ...
//   assert.is(await fx.check(), 'PASS');       // SIGUSR1, then reads OUTFILE
//   fx.kill();                                 // always, in finally
// By default the fixture is a child_process child of the test (fine when tscr
// runs as a subprocess). Pass {daemon: true} when the test process itself
// traces it (in-process tracer worker): then it is started by the C shim with a
// double fork, so libuv never sees it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES_BIN, ROOT } from '../../lib/paths.ts';

export interface Fixture {
  pid: number;
  out: string;
  dir: string;
  /** Send SIGUSR1 and wait for the verdict ('PASS' or 'FAIL: ...'). */
  check(timeoutMs?: number): Promise<string>;
  alive(): boolean;
  kill(): void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFile(path: string, timeoutMs = 10000): Promise<string> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (existsSync(path)) { const s = readFileSync(path, 'utf8'); if (s) return s; }
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${path}`);
}

export function pidAlive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(st);
  } catch { return false; }
}

export async function startFixture(name: string, args: string[] = [], o: { daemon?: boolean; dir?: string } = {}): Promise<Fixture> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), `tscr-fx-${name}-`));
  const out = join(dir, name + '.out');
  const bin = join(FIXTURES_BIN, name);
  if (!existsSync(bin)) throw new Error(`fixture ${bin} is not built (node scripts/build.mjs fixtures)`);
  let pid: number;
  if (o.daemon) {
    const { spawnProgram, SPAWN } = await import('../../shim/native.ts');
    spawnProgram(bin, [bin, out, ...args], SPAWN.DAEMON | SPAWN.NULLIO);
    pid = Number((await waitFile(out + '.ready')).trim());
  } else {
    // detached: its own session and group (setsid), as a daemon would be
    const child = spawn(bin, [out, ...args], { stdio: 'ignore', cwd: dir, detached: true });
    child.unref();
    child.on('error', () => {});
    pid = Number((await waitFile(out + '.ready')).trim());
  }
  return {
    pid, out, dir,
    async check(timeoutMs = 10000) {
      process.kill(pid, 'SIGUSR1');
      return (await waitFile(out, timeoutMs)).trim();
    },
    alive: () => pidAlive(pid),
    kill() {
      killTree(pid);
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const TSCR = join(ROOT, 'bin', 'tscr.js');

/** All descendants of pid (from /proc/PID/task/TID/children), pid first. */
export function treePids(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of readdirSync(`/proc/${out[i]}/task`)) {
        const c = readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim();
        if (c) out.push(...c.split(/\s+/).map(Number));
      }
    } catch { /* gone */ }
  }
  return out;
}

/** SIGKILL pid and every descendant. */
export function killTree(pid: number): void {
  for (const p of treePids(pid).reverse()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
}

export interface RunResult { code: number | null; signal: string | null; stdout: string; stderr: string }

/** Run `node bin/tscr.js ARGS` as a subprocess. onSpawn gets the child (to signal it mid-run). */
export function runTscr(args: string[], o: { env?: Record<string, string>; onSpawn?: (c: ChildProcess) => void; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [TSCR, ...args], { env: { ...process.env, ...(o.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout!.on('data', (d) => { stdout += d; });
    c.stderr!.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), o.timeoutMs ?? 60000);
    o.onSpawn?.(c);
    c.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}
