// "Safe to restore here?" checks against a host description, which can be made
// on the target host (`tscr validate --describe-host [--for DIR]`, from /proc and
// /sys, no shim) and checked anywhere (`tscr validate DIR --policy host.json`).
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { TscrError } from '../errors.ts';
import { Checkpoint, num } from './checkpoint.ts';
import type { Finding } from './validate.ts';

export interface HostDescription {
  tscr_host_version: 1;
  hostname?: string;
  arch: string;                 // 'x86_64'
  kernel: string;               // '6.18.0'
  features: Record<string, boolean>; // timens, userfaultfd, clone3_set_tid, tcp_repair, pagemap_scan, memfd
  /**
   * xfeatures: XSAVE features the kernel enabled (hex). xsave_size: the size of a
   * standard-format XSAVE area for the user features among them, which is what CPUID
   * leaf 0xd reports to programs (EBX) and what CRIU records in cpuinfo.img. xsave_size_max
   * (optional, CPUID ECX) is compared only when a description has it.
   * kernel_context_size: the kernel's own (compacted) buffer size, for information.
   */
  cpu: { xfeatures: string; xsave_size?: number; xsave_size_max?: number; kernel_context_size?: number; flags?: string[] };
  pid_max: number;
  pids_in_use: number[];
  ports_in_use: { tcp: number[]; udp: number[] };
  /** Files the checkpoint needs, as found on the host (null = missing). Only with --for. */
  files?: Record<string, { size: number; mode: number } | null>;
}

// XSAVE feature bits from /proc/cpuinfo flags when the kernel log is not readable.
const XFEATURE_FLAGS: [number, string][] = [
  [0x1, 'fpu'], [0x2, 'sse'], [0x4, 'avx'], [0x8 | 0x10, 'mpx'], [0x20 | 0x40 | 0x80, 'avx512f'],
  [0x200, 'pku'], [0x800, 'user_shstk'], [0x20000 | 0x40000, 'amx_tile'],
];

// Standard (non-compacted) XSAVE layout of the user state components: bit -> [offset, size]
// (architectural; the x87 and SSE state live in the 512-byte legacy area before the
// 64-byte header). Supervisor components (PT, PASID, CET, ...) never appear in it.
const XSTATE_STD: [number, number, number][] = [
  [2, 576, 256], [3, 960, 64], [4, 1024, 64], [5, 1088, 64], [6, 1152, 512], [7, 1664, 1024],
  [9, 2688, 8], [17, 2752, 64], [18, 2816, 8192],
];
const XSTATE_USER = XSTATE_STD.reduce((m, [b]) => m | (1n << BigInt(b)), 0x3n);

/** Bytes a standard-format XSAVE area needs to hold these components (CPUID 0xd EBX for XCR0 = mask). */
export function xsaveStdSize(mask: bigint): number {
  let size = 576;
  for (const [bit, off, len] of XSTATE_STD) if (mask & (1n << BigInt(bit))) size = Math.max(size, off + len);
  return size;
}

function kernelAtLeast(rel: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) return false;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

function readText(p: string): string { try { return readFileSync(p, 'utf8'); } catch { return ''; } }

function ports(file: string): number[] {
  const out: number[] = [];
  for (const line of readText(file).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const port = parseInt(f[1].split(':')[1] ?? '', 16);
    if (Number.isFinite(port)) out.push(port);
  }
  return out;
}

/** Files a checkpoint needs to find on the restore host: regular files and the executables. */
export function neededFiles(cp: Checkpoint): Map<string, { size?: number; why: string }> {
  const need = new Map<string, { size?: number; why: string }>();
  const ghosts = new Set<number>();
  for (const e of cp.entries('remap-fpath.img')) ghosts.add(num(e.orig_id));
  for (const e of cp.entries('files.img')) {
    if (!e.reg || ghosts.has(num(e.id))) continue;
    const name = String(e.reg.name ?? '');
    if (!name.startsWith('/') || name.startsWith('/dev/') || name.startsWith('/proc/') || name.startsWith('/sys/')) continue;
    const size = e.reg.size !== undefined ? num(e.reg.size) : undefined;
    if (!need.has(name) || size !== undefined) need.set(name, { size, why: size !== undefined ? 'mapped or executable (size is checked)' : 'open file' });
  }
  return need;
}

export function describeHost(forCp?: Checkpoint): HostDescription {
  if (process.platform !== 'linux') {
    throw new TscrError('E_UNSUPPORTED', '--describe-host reads /proc and /sys, so it runs on the Linux host you will restore on', { hint: 'run it there and copy host.json here; `tscr validate DIR --policy host.json` works on any OS' });
  }
  const kernel = readText('/proc/sys/kernel/osrelease').trim();
  const cpuinfo = readText('/proc/cpuinfo');
  const flags = (/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/).filter(Boolean);
  let xf = 0;
  let xsaveSize: number | undefined, kernelSize: number | undefined;
  // child_process is loaded only here: loading it costs every validate run several ms of start-up
  const { spawnSync } = (process as any).getBuiltinModule('node:child_process') as typeof import('node:child_process');
  const dmesg = spawnSync('dmesg', [], { encoding: 'utf8', timeout: 5000 });
  const log = dmesg.status === 0 ? dmesg.stdout : '';
  const en = /x86\/fpu: Enabled xstate features (0x[0-9a-f]+), context size is (\d+) bytes/.exec(log);
  if (en) { xf = parseInt(en[1], 16); kernelSize = Number(en[2]); }
  else for (const [bits, f] of XFEATURE_FLAGS) if (flags.includes(f)) xf |= bits;
  if (flags.includes('xsave')) xsaveSize = xsaveStdSize(BigInt(xf) & XSTATE_USER);
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    pids.push(Number(d));
    try { for (const t of readdirSync(`/proc/${d}/task`)) if (t !== d) pids.push(Number(t)); } catch { /* exited */ }
  }
  const host: HostDescription = {
    tscr_host_version: 1,
    hostname: readText('/proc/sys/kernel/hostname').trim(),
    arch: process.arch === 'x64' ? 'x86_64' : process.arch,
    kernel,
    features: {
      timens: existsSync('/proc/self/ns/time'),
      userfaultfd: existsSync('/proc/sys/vm/unprivileged_userfaultfd') || existsSync('/dev/userfaultfd'),
      clone3_set_tid: kernelAtLeast(kernel, 5, 5),
      pagemap_scan: kernelAtLeast(kernel, 6, 7),
      tcp_repair: kernelAtLeast(kernel, 3, 5),
      memfd: kernelAtLeast(kernel, 3, 17),
    },
    cpu: { xfeatures: '0x' + xf.toString(16), ...(xsaveSize ? { xsave_size: xsaveSize } : {}), ...(kernelSize ? { kernel_context_size: kernelSize } : {}), flags },
    pid_max: Number(readText('/proc/sys/kernel/pid_max').trim()) || 4194304,
    pids_in_use: [...new Set(pids)].sort((a, b) => a - b),
    ports_in_use: {
      tcp: [...new Set([...ports('/proc/net/tcp'), ...ports('/proc/net/tcp6')])].sort((a, b) => a - b),
      udp: [...new Set([...ports('/proc/net/udp'), ...ports('/proc/net/udp6')])].sort((a, b) => a - b),
    },
  };
  if (forCp) {
    host.files = {};
    for (const name of neededFiles(forCp).keys()) {
      try { const st = statSync(name); host.files[name] = { size: st.size, mode: st.mode }; } catch { host.files[name] = null; }
    }
  }
  return host;
}

export function loadHost(path: string): HostDescription {
  let h: any;
  try { h = JSON.parse(readFileSync(path, 'utf8')); } catch (e) {
    throw new TscrError('E_BAD_JSON', `cannot read host description ${path}: ${(e as Error).message}`, { file: path, hint: 'make it with `tscr validate --describe-host --for DIR > host.json` on the restore host' });
  }
  const bad = (what: string) => new TscrError('E_BAD_JSON', `host description ${path}: ${what}`, { file: path, hint: 'make it with `tscr validate --describe-host --for DIR > host.json`' });
  if (!h || typeof h !== 'object' || h.tscr_host_version !== 1) throw bad('not a tscr host description (tscr_host_version 1)');
  if (typeof h.arch !== 'string' || typeof h.kernel !== 'string') throw bad('arch and kernel must be strings');
  if (!h.cpu || typeof h.cpu.xfeatures !== 'string' || !/^0x[0-9a-f]+$/i.test(h.cpu.xfeatures)) throw bad('cpu.xfeatures must be a hex string');
  for (const k of ['xsave_size', 'xsave_size_max']) if (h.cpu[k] !== undefined && !(Number.isInteger(h.cpu[k]) && h.cpu[k] > 0)) throw bad(`cpu.${k} must be a positive integer (bytes)`);
  if (!Array.isArray(h.pids_in_use) || !h.ports_in_use || !Array.isArray(h.ports_in_use.tcp) || !Array.isArray(h.ports_in_use.udp)) throw bad('pids_in_use and ports_in_use.{tcp,udp} must be arrays');
  if (typeof h.features !== 'object') throw bad('features must be an object');
  return h as HostDescription;
}

/** Findings (code policy.*) for restoring cp on host. */
export function checkPolicy(cp: Checkpoint, host: HostDescription, at: (file: string, i: number) => number): Finding[] {
  const out: Finding[] = [];
  const add = (severity: Finding['severity'], code: string, file: string, offset: number, message: string, pid?: number) =>
    out.push({ severity, code, file, offset, message, ...(pid !== undefined ? { pid } : {}) });
  const procs = cp.procs();
  const inUse = new Set(host.pids_in_use);
  const hostXf = BigInt(host.cpu.xfeatures);
  for (const p of procs) {
    const off = at('pstree.img', p.index);
    for (const t of p.threads) {
      if (inUse.has(t)) add('error', 'policy.pid-in-use', 'pstree.img', off, `${t === p.pid ? 'pid' : 'thread id'} ${t} is in use on host ${host.hostname ?? ''}; restore needs it free`.replace('  ', ' '), p.pid);
      if (t > host.pid_max) add('error', 'policy.pid-max', 'pstree.img', off, `${t} is above the host's pid_max ${host.pid_max}`, p.pid);
      const cf = `core-${t}.img`;
      const c = cp.entries(cf)[0];
      if (!c) continue;
      if (t === p.pid && c.mtype && c.mtype !== (host.arch === 'x86_64' ? 'X86_64' : host.arch.toUpperCase())) {
        add('error', 'policy.arch', cf, at(cf, 0), `dumped on ${c.mtype}, host is ${host.arch}`, p.pid);
      }
      const bv = c.thread_info?.fpregs?.xsave?.xstate_bv;
      if (bv !== undefined) {
        const need = BigInt(bv);
        const missing = need & ~hostXf;
        if (missing) add('error', 'policy.xsave', cf, at(cf, 0), `thread ${t} uses XSAVE features 0x${need.toString(16)}; the host lacks 0x${missing.toString(16)} (CPU registers cannot be restored there)`, p.pid);
        else if (host.cpu.xsave_size !== undefined && xsaveStdSize(need) > host.cpu.xsave_size) {
          add('error', 'policy.xsave-size', cf, at(cf, 0), `thread ${t}'s saved XSAVE state needs ${xsaveStdSize(need)} bytes; the host's XSAVE area is ${host.cpu.xsave_size} bytes`, p.pid);
        }
      }
    }
  }
  // The dump host's CPU as CRIU records it (cpuinfo.img, `criu cpuinfo dump`): CRIU refuses
  // to restore when the XSAVE sizes differ, since libc caches the size it read from CPUID
  // and a restored program would save and restore its registers with the wrong frame size.
  cp.entries('cpuinfo.img').forEach((e, i) => {
    const x = e.x86_entry?.[0];
    if (!x) return;
    const off = at('cpuinfo.img', i);
    if (x.xfeatures_mask !== undefined) {
      const missing = BigInt(x.xfeatures_mask) & ~hostXf;
      if (missing) add('error', 'policy.xsave', 'cpuinfo.img', off, `the dump host had XSAVE features 0x${BigInt(x.xfeatures_mask).toString(16)}; this host lacks 0x${missing.toString(16)}`);
    }
    for (const [k, what] of [['xsave_size', 'XSAVE area'], ['xsave_size_max', 'largest XSAVE area']] as const) {
      const want = x[k] === undefined ? undefined : num(x[k]);
      const have = host.cpu[k];
      if (want === undefined || have === undefined || want === have) continue;
      add('error', 'policy.xsave-size', 'cpuinfo.img', off, `the dump host's ${what} was ${want} bytes, this host's is ${have} (${k}); programs that sized their register saves on the dump host would misbehave (CRIU refuses this too)`);
    }
  });
  const needTcpRepair = cp.names.some((n) => n.startsWith('tcp-stream-'));
  if (needTcpRepair && host.features.tcp_repair === false) add('error', 'policy.feature', 'inventory.img', 0, 'the checkpoint holds established TCP connections, but the host has no TCP repair mode');
  if (cp.names.some((n) => /^timens-\d+\.img$/.test(n)) && host.features.timens === false) add('warning', 'policy.feature', 'inventory.img', 0, 'the checkpoint has a time namespace image, but the host has no time namespaces');
  if (procs.length > 0 && host.features.clone3_set_tid === false) add('error', 'policy.feature', 'pstree.img', 0, 'restoring pids needs clone3 with set_tid (Linux 5.5+); the host lacks it');
  // ports
  cp.entries('files.img').forEach((e, i) => {
    const s = e.isk;
    if (!s) return;
    const port = num(s.src_port);
    if (!port) return;
    const proto = s.proto === 'UDP' ? 'udp' : s.proto === 'TCP' ? 'tcp' : null;
    if (!proto) return;
    if (host.ports_in_use[proto].includes(port)) add('error', 'policy.port-in-use', 'files.img', at('files.img', i), `${proto.toUpperCase()} port ${port} (socket id ${num(e.id)}, ${s.state}) is in use on the host`);
  });
  // files
  const need = neededFiles(cp);
  if (host.files) {
    for (const [name, n] of need) {
      const f = host.files[name];
      if (f === undefined) add('warning', 'policy.file-unknown', 'files.img', 0, `${name} is needed but the host description does not say whether it exists (make it with --for DIR)`);
      else if (f === null) add('error', 'policy.file-missing', 'files.img', 0, `${name} (${n.why}) does not exist on the host`);
      else if (n.size !== undefined && f.size !== n.size) add('error', 'policy.file-size', 'files.img', 0, `${name} is ${f.size} bytes on the host but ${n.size} in the checkpoint (a different build?)`);
    }
  } else if (need.size) {
    add('info', 'policy.files-unchecked', 'files.img', 0, `${need.size} file(s) must exist on the host; the host description has no file list (make it with --describe-host --for DIR)`);
  }
  return out;
}
