// Kernel feature probe, done once: which checkpoint/restore features this
// machine has. Used by `tscr check` and by dump/restore to pick code paths.
// Runs on the tracer thread (job 'caps') because the ptrace probes must.
import { existsSync, readFileSync, openSync, closeSync, readdirSync, rmSync } from 'node:fs';
import { ptraceShimRaw, spawnProgram, SPAWN, PTRACE_O, uffdShimRaw, UFFD_FEATURE } from '../shim/native.ts';
import { Tracee, waitFor } from './ptrace.ts';
import { FIXTURES_BIN } from './paths.ts';
import type { JobCtx } from './tracer.ts';

export interface Caps {
  kernel: string;
  arch: string;
  ptraceSeize: boolean;
  ptraceGetRseq: boolean;
  syscallInjection: boolean;
  xstateSize: number;
  pagemapScan: boolean;
  softDirty: boolean;
  userfaultfd: boolean;
  /** userfaultfd write-protect with WP_ASYNC + WP_UNPOPULATED: tscr dump --track-mem (issue 7) */
  memTracking: boolean;
  clone3SetTid: boolean;
  nsLastPid: boolean;
  pidfdOpen: boolean;
  pidfdGetfd: boolean;
  kcmp: boolean;
  mapFiles: boolean;
  timeNamespaces: boolean;
  tcpRepair: boolean;
  vdso: { layout: string[]; vvarPages: number; vdsoPages: number };
  checkpointRestoreCap: boolean;
}

function maybe(f: () => boolean): boolean { try { return f(); } catch { return false; } }

/** Probe the kernel (and the target-side features through a short-lived child). */
export function probeCaps(): Caps {
  const s = ptraceShimRaw();
  const uname = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const selfMaps = readFileSync('/proc/self/maps', 'utf8').split('\n');
  const special = selfMaps.map((l) => /\[(vvar|vvar_vclock|vdso)\]/.exec(l)?.[1]).filter(Boolean) as string[];
  const pagesOf = (n: string) => {
    const l = selfMaps.find((x) => x.endsWith(`[${n}]`));
    if (!l) return 0;
    const [a, b] = l.split(' ')[0].split('-').map((x) => parseInt(x, 16));
    return (b - a) / 4096;
  };
  const caps: Caps = {
    kernel: uname, arch: process.arch,
    ptraceSeize: false, ptraceGetRseq: false, syscallInjection: false, xstateSize: 0,
    pagemapScan: false, softDirty: false,
    userfaultfd: existsSync('/dev/userfaultfd') || existsSync('/proc/sys/vm/unprivileged_userfaultfd'),
    memTracking: false,
    clone3SetTid: false,
    nsLastPid: maybe(() => { const fd = openSync('/proc/sys/kernel/ns_last_pid', 'r+'); closeSync(fd); return true; }),
    pidfdOpen: false, pidfdGetfd: false, kcmp: false,
    mapFiles: existsSync('/proc/self/map_files'),
    timeNamespaces: existsSync('/proc/self/ns/time'),
    tcpRepair: false,
    vdso: { layout: special, vvarPages: pagesOf('vvar') + pagesOf('vvar_vclock'), vdsoPages: pagesOf('vdso') },
    checkpointRestoreCap: maybe(() => {
      const st = readFileSync('/proc/self/status', 'utf8');
      const eff = BigInt('0x' + /CapEff:\s+([0-9a-f]+)/.exec(st)![1]);
      return ((eff >> 40n) & 1n) === 1n || ((eff >> 21n) & 1n) === 1n; // CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN
    }),
  };
  // soft-dirty: bit 55 of pagemap entries; clear_refs accepts "4" only with CONFIG_MEM_SOFT_DIRTY.
  caps.softDirty = maybe(() => readdirSync('/proc/self').includes('clear_refs') && readFileSync('/proc/self/smaps', 'utf8').includes(' sd'));
  caps.pagemapScan = maybe(() => {
    const fd = openSync('/proc/self/pagemap', 'r');
    try {
      const out = new BigUint64Array(3), we = new BigUint64Array(1);
      return s.pagemap_scan(fd, 0x10000, 0x20000, 1 << 3, 1 << 3, out, 1, we) >= 0;
    } finally { closeSync(fd); }
  });
  caps.memTracking = caps.pagemapScan && maybe(() => {
    const want = UFFD_FEATURE.WP_ASYNC | UFFD_FEATURE.WP_UNPOPULATED;
    const got = Number(uffdShimRaw().probe(want));
    return got >= 0 && (got & want) === want;
  });
  // A child to probe ptrace, injection, pidfds and kcmp against.
  const loop = `${FIXTURES_BIN}/loop`;
  const bin = existsSync(loop) ? loop : '/bin/sleep';
  // the fixture's OUTFILE must be a scratch path (it renames files onto it)
  const args = bin === loop ? [bin, `/tmp/.tscr-caps-${process.pid}`] : [bin, '30'];
  let pid = -1;
  try {
    pid = spawnProgram(bin, args, SPAWN.NULLIO);
    const t = new Tracee(pid, pid);
    const r = s.seize(pid, PTRACE_O.TRACECLONE);
    if (r === 0) {
      caps.ptraceSeize = true;
      t.interruptAndWait(2000);
      caps.xstateSize = maybe(() => true) ? t.getXstate().length : 0;
      caps.ptraceGetRseq = s.get_rseq(pid, Buffer.alloc(32)) >= 0;
      caps.syscallInjection = maybe(() => {
        const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
        const { parseMaps } = require_proc();
        const { findGadget } = require_ptrace();
        const g = findGadget(pid, parseMaps(maps));
        return Number(t.syscall(g.addr, g.poke, 39 /* getpid */)) === pid;
      });
      t.detach();
    }
    const pfd = s.pidfd_open(pid, 0);
    caps.pidfdOpen = pfd >= 0;
    if (pfd >= 0) {
      const fd = s.pidfd_getfd(pfd, 0);
      caps.pidfdGetfd = fd >= 0;
      if (fd >= 0) s.close(fd);
      s.close(pfd);
    }
    caps.kcmp = s.kcmp(pid, pid, 0, 0, 0) === 0;
  } catch { /* probes stay false */ } finally {
    if (pid > 0) { s.kill(pid, 9); waitFor(pid, 2000); }
    for (const f of [`/tmp/.tscr-caps-${process.pid}`, `/tmp/.tscr-caps-${process.pid}.ready`]) { try { rmSync(f); } catch { /* none */ } }
  }
  // clone3 with set_tid: an EINVAL for a bad set_tid_size proves the field is known (ENOSYS otherwise).
  caps.clone3SetTid = caps.nsLastPid && Number(uname.split('.')[0]) >= 5 && (Number(uname.split('.')[0]) > 5 || Number(uname.split('.')[1]) >= 5);
  caps.tcpRepair = caps.checkpointRestoreCap && existsSync('/proc/sys/net/ipv4/tcp_timestamps');
  return caps;
}

// local re-exports to keep the probe self-contained
import * as procMod from './proc.ts';
import * as ptraceMod from './ptrace.ts';
function require_proc() { return procMod; }
function require_ptrace() { return ptraceMod; }

export function capsJob(_opts: unknown, _ctx: JobCtx): Caps { return probeCaps(); }
