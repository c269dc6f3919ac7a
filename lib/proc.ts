// Readers for /proc/PID/* (no native code): maps, status, stat, tasks,
// children, fdinfo, timers. Pure parsing, usable anywhere on Linux.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { TscrError } from './errors.ts';

export function readProc(pid: number, name: string): string {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch (e: any) {
    if (e.code === 'ENOENT' || e.code === 'ESRCH') throw new TscrError('E_NOT_FOUND', `process ${pid} does not exist (reading /proc/${pid}/${name})`, { pid, hint: 'check the pid with `ps`' });
    throw new TscrError('E_IO', `cannot read /proc/${pid}/${name}: ${e.code ?? e.message}`, { pid });
  }
}

export interface MapEntry {
  start: bigint; end: bigint;
  prot: string;        // "rwxp"
  pgoff: bigint;
  dev: string;         // "fd:01"
  ino: number;
  name: string;        // path, [heap], [stack], [vdso], '' for anon
  deleted: boolean;
}

export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    let name = m[7] ?? '';
    let deleted = false;
    if (name.endsWith(' (deleted)')) { deleted = true; name = name.slice(0, -10); }
    out.push({ start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), prot: m[3], pgoff: BigInt('0x' + m[4]), dev: m[5], ino: Number(m[6]), name, deleted });
  }
  return out;
}

export function maps(pid: number): MapEntry[] { return parseMaps(readProc(pid, 'maps')); }

/** /proc/PID/status as key -> value (raw strings). */
export function status(pid: number, tid?: number): Record<string, string> {
  const text = readProc(pid, tid ? `task/${tid}/status` : 'status');
  const o: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) o[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return o;
}

/** Fields of /proc/PID/stat after the comm (index 0 = state, i.e. field 3). */
export function stat(pid: number, tid?: number): { comm: string; f: string[] } {
  const text = readProc(pid, tid ? `task/${tid}/stat` : 'stat');
  const a = text.indexOf('(');
  const b = text.lastIndexOf(')');
  return { comm: text.slice(a + 1, b), f: text.slice(b + 2).trim().split(' ') };
}

export function tasks(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter((n) => n > 0).sort((x, y) => x - y);
  } catch {
    return [];
  }
}

export function children(pid: number): number[] {
  const out = new Set<number>();
  for (const t of tasks(pid)) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.add(Number(c));
    } catch { /* task gone */ }
  }
  return [...out].sort((x, y) => x - y);
}

/** A process and all its descendants, parents before children (one pass over every /proc/PID/stat). */
export function descendants(root: number): number[] {
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
  walk(root);
  return out;
}

export function fdList(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
}

export function fdLink(pid: number, fd: number): string {
  return readlinkSync(`/proc/${pid}/fd/${fd}`);
}

export interface FdInfoRaw { pos: bigint; flags: number; mntId: number; fields: Record<string, string>; lines: string[] }
export function fdinfo(pid: number, fd: number): FdInfoRaw {
  const text = readProc(pid, `fdinfo/${fd}`);
  const fields: Record<string, string> = {};
  const lines = text.split('\n').filter(Boolean);
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0 && !(l.slice(0, i) in fields)) fields[l.slice(0, i)] = l.slice(i + 1).trim();
  }
  return { pos: BigInt(fields.pos ?? '0'), flags: parseInt(fields.flags ?? '0', 8), mntId: Number(fields.mnt_id ?? 0), fields, lines };
}

/** Hex signal mask from status ("0000000000010000") as bigint. */
export function sigmask(hex: string | undefined): bigint { return BigInt('0x' + (hex || '0')); }

export interface ProcTimer { id: number; signal: number; sigval: bigint; notify: string; notifyTid: number; clock: number }
/** /proc/PID/timers (POSIX timers). */
export function posixTimers(pid: number): ProcTimer[] {
  let text = '';
  try { text = readFileSync(`/proc/${pid}/timers`, 'utf8'); } catch { return []; }
  const out: ProcTimer[] = [];
  let cur: any = null;
  for (const line of text.split('\n')) {
    let m;
    if ((m = /^ID: (\d+)/.exec(line))) { cur = { id: Number(m[1]), signal: 0, sigval: 0n, notify: 'signal', notifyTid: 0, clock: 0 }; out.push(cur); }
    else if (cur && (m = /^signal: (\d+)\/([0-9a-fx]+)/.exec(line))) { cur.signal = Number(m[1]); cur.sigval = BigInt(m[2].startsWith('0x') ? m[2] : '0x' + m[2]); }
    else if (cur && (m = /^notify: (\w+)\/(\w+)\.(\d+)/.exec(line))) { cur.notify = m[1]; cur.notifyTid = Number(m[3]); }
    else if (cur && (m = /^ClockID: (\d+)/.exec(line))) cur.clock = Number(m[1]);
  }
  return out;
}
