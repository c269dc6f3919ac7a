// Bench helper: read the present pages of a live process as root, the way a dump
// would (private writable mappings; /proc/PID/pagemap says which pages are present),
// through /proc/PID/mem. Used only when the dump engine is not wired in.
import { openSync, readSync, closeSync, readFileSync } from 'node:fs';

export interface Run { addr: number; pages: number }

/** Runs of present pages in the private writable mappings of pid. */
export function presentRuns(pid: number): Run[] {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n');
  const pm = openSync(`/proc/${pid}/pagemap`, 'r');
  const runs: Run[] = [];
  try {
    for (const line of maps) {
      const [range, perms, , , , path = ''] = line.split(/\s+/);
      if (!perms.startsWith('rw') || perms[3] !== 'p' || path.startsWith('[v')) continue;
      const [s, e] = range.split('-').map((x) => parseInt(x, 16));
      const n = (e - s) / 4096;
      const CH = 32768;
      for (let i = 0; i < n; i += CH) {
        const k = Math.min(CH, n - i);
        const b = Buffer.alloc(k * 8);
        readSync(pm, b, 0, b.length, ((s / 4096) + i) * 8);
        let runStart = -1;
        for (let j = 0; j <= k; j++) {
          const present = j < k && (b.readUInt32LE(j * 8 + 4) & 0xc0000000) !== 0;
          if (present && runStart < 0) runStart = j;
          if (!present && runStart >= 0) { runs.push({ addr: s + (i + runStart) * 4096, pages: j - runStart }); runStart = -1; }
        }
      }
    }
  } finally { closeSync(pm); }
  return runs;
}

/** Call fn with chunks (<= 4 MiB) of the present pages of pid, in address order. */
export function forEachChunk(pid: number, runs: Run[], fn: (b: Buffer) => void | Promise<void>): Promise<void> | void {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const CH = 1024;
  const buf = Buffer.alloc(CH * 4096);
  const go = async () => {
    try {
      for (const r of runs) {
        for (let i = 0; i < r.pages; i += CH) {
          const k = Math.min(CH, r.pages - i);
          const n = readSync(fd, buf, 0, k * 4096, r.addr + i * 4096);
          if (n !== k * 4096) buf.fill(0, n, k * 4096);
          await fn(buf.subarray(0, k * 4096));
        }
      }
    } finally { closeSync(fd); }
  };
  return go();
}

/** All present pages of pid in one buffer. */
export async function capture(pid: number): Promise<Buffer> {
  const runs = presentRuns(pid);
  const total = runs.reduce((a, r) => a + r.pages, 0);
  const out = Buffer.alloc(total * 4096);
  let o = 0;
  await forEachChunk(pid, runs, (b) => { b.copy(out, o); o += b.length; });
  return out;
}

/**
 * A python3 program holding a dict of argv[1] entries (random keys and tuples, a
 * realistic heap); it writes "ready" to argv[2] once built, then sleeps.
 */
export const PY_DICT = `
import sys, random, time
random.seed(7)
n = int(sys.argv[1])
d = {}
for i in range(n):
    d["user:%d:%d" % (i, random.randrange(10**9))] = (i, random.random(), "name-%d" % random.randrange(100000))
open(sys.argv[2], "w").write("ready")
while True:
    time.sleep(1000)
`;
