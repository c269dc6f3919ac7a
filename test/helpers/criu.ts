// The reference CRIU for interop tests and benches: a CRIU 4.x binary. Debian's
// 3.17 fails on this kernel, so it is usually one built from source
// (TSCR_CRIU=/path/to/criu, or /tmp/criu-build); never committed. Null when none.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CANDIDATES = [process.env.TSCR_CRIU, '/tmp/criu-build/criu/criu', '/tmp/criu-build/src/criu/criu', '/usr/local/sbin/criu', '/usr/sbin/criu'];
let found: string | null | undefined;

export function findCriu(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const c of CANDIDATES) {
    if (!c || !existsSync(c)) continue;
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    const m = /Version:\s*(\d+)\./.exec(r.stdout ?? '');
    if (r.status === 0 && m && Number(m[1]) >= 4) { found = c; break; }
  }
  return found;
}
