// Inet sockets (issue 5): TCP (established with --tcp-established, listening)
// and UDP (bound or connected), IPv4 and IPv6, with their socket options.
//
// Images, exactly as CRIU writes them:
// - files.img: {type: 'INETSK', id, isk: inet_sk_entry} (crit shape)
// - tcp-stream-<ino in hex>.img: one TCP_STREAM entry per established socket,
//   with the queues in entry.extra = {inq, outq} (base64, as crit prints them)
//
// Dump of an established connection: lock its 4-tuple (lib/netlock.ts), put
// the socket in repair mode, read seqs/options/window and both queues. The
// socket stays in repair mode until finishDump: if the tree is killed, closing
// a socket in repair mode sends nothing (no FIN, no RST), and the lock stays for
// the restore; if the dump fails or the tree keeps running, repair mode is left
// and the lock released.
//
// Restore: a fresh socket in repair mode, bound and "connected" to the same
// address pair without a packet, seqs set, queues refilled, options and window
// set. finishRestore leaves repair mode and releases the lock.

import type { DumpFdCtx, DumpOutcome, FdKind, RestoreFdCtx } from './types.ts';
import { TscrError } from '../errors.ts';
import { descendants } from '../proc.ts';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import {
  check, errnoName, getSockInt, inNetns, ptraceShimRaw, setSockInt, sockName, tcpShimRaw, tcpStateFromBuffer, tcpStateToBuffer,
  TCP_QUEUE, TCP_RESTORE_STEPS, type TcpState,
} from '../../shim/native.ts';
import { NetLock, releaseLeftLock, LOCK_BYPASS_MARK, type ConnTuple } from '../netlock.ts';

// ---- kernel constants ------------------------------------------------------
const AF_INET = 2, AF_INET6 = 10;
const SOCK_STREAM = 1, SOCK_DGRAM = 2;
const IPPROTO_TCP = 6, IPPROTO_UDP = 17;
const SOL_SOCKET = 1, SOL_IP = 0, SOL_IPV6 = 41, SOL_TCP = 6;
const SO = {
  REUSEADDR: 2, TYPE: 3, DONTROUTE: 5, BROADCAST: 6, SNDBUF: 7, RCVBUF: 8, KEEPALIVE: 9, OOBINLINE: 10,
  NO_CHECK: 11, PRIORITY: 12, LINGER: 13, REUSEPORT: 15, PASSCRED: 16, RCVLOWAT: 18, RCVTIMEO: 20, SNDTIMEO: 21,
  BINDTODEVICE: 25, SNDBUFFORCE: 32, RCVBUFFORCE: 33, MARK: 36, PROTOCOL: 38, DOMAIN: 39, BUF_LOCK: 72,
};
const IP_TOS = 1, IP_TTL = 2, IP_FREEBIND = 15, IPV6_V6ONLY = 26, IPV6_FREEBIND = 78;
const TCP_OPT = { NODELAY: 1, CORK: 3, KEEPIDLE: 4, KEEPINTVL: 5, KEEPCNT: 6 };
const TCP_REPAIR_ON = 1, TCP_REPAIR_OFF = 0;

export const TCP_STATES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];
const FAMILY: Record<number, string> = { [AF_INET]: 'INET', [AF_INET6]: 'INET6' };
const TYPE: Record<number, string> = { [SOCK_STREAM]: 'STREAM', [SOCK_DGRAM]: 'DGRAM' };
const PROTO: Record<number, string> = { [IPPROTO_TCP]: 'TCP', [IPPROTO_UDP]: 'UDP' };
const byName = (m: Record<number, string>, v: string | number, what: string): number => {
  if (typeof v === 'number') return v;
  const e = Object.entries(m).find(([, n]) => n === v);
  if (!e) throw new TscrError('E_BAD_JSON', `unknown inet socket ${what} ${JSON.stringify(v)}`, { kind: 'INETSK' });
  return Number(e[0]);
};

// ---- addresses ---------------------------------------------------------------
/** 16 raw bytes (4 used for IPv4) -> the text crit prints. */
export function addrToText(family: number, b: Uint8Array): string {
  if (family === AF_INET) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i] << 8) | b[2 * i + 1]);
  // IPv4-mapped (::ffff:a.b.c.d), as inet_ntop prints it
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hx = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hx(w) : `${hx(w.slice(0, best))}::${hx(w.slice(best + bestLen))}`;
}

/** Address text (or crit's one-element array) -> 16 bytes. */
export function addrFromText(family: number, t: string | string[] | number[] | undefined): Buffer {
  const out = Buffer.alloc(16);
  let s: any = Array.isArray(t) ? t[0] : t;
  if (s === undefined || s === null) return out;
  s = String(s);
  const v4 = (x: string, at: number) => {
    const p = x.split('.').map(Number);
    if (p.length !== 4 || p.some((n) => !(n >= 0 && n <= 255))) throw new TscrError('E_BAD_JSON', `bad IPv4 address ${JSON.stringify(x)}`, { kind: 'INETSK' });
    p.forEach((n, i) => { out[at + i] = n; });
  };
  if (family === AF_INET) { v4(s, 0); return out; }
  let tail4: string | null = null;
  const m = s.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (m) { tail4 = m[2]; s = m[1] + '0:0'; }
  const [l, r] = s.includes('::') ? s.split('::') : [s, null];
  const L = l ? l.split(':') : [];
  const R = r === null ? [] : (r ? r.split(':') : []);
  const words = r === null ? L : [...L, ...Array(8 - L.length - R.length).fill('0'), ...R];
  if (words.length !== 8 || words.some((x: string) => !/^[0-9a-f]{1,4}$/i.test(x))) {
    throw new TscrError('E_BAD_JSON', `bad IPv6 address ${JSON.stringify(t)}`, { kind: 'INETSK' });
  }
  words.forEach((x: string, i: number) => out.writeUInt16BE(parseInt(x, 16), 2 * i));
  if (tail4) v4(tail4, 12);
  return out;
}

/** crit's base64 for bytes fields (Python's encodebytes: 76-char lines, each ending in \n). */
export function critBase64(b: Uint8Array): string {
  if (!b.byteLength) return '';
  const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  const parts = new Array<string>(Math.ceil(s.length / 76));
  for (let i = 0; i < parts.length; i++) parts[i] = s.slice(i * 76, i * 76 + 76);
  return parts.join('\n') + '\n';
}
const fromBase64 = (s: unknown): Buffer => (typeof s === 'string' ? Buffer.from(s, 'base64') : s instanceof Uint8Array ? Buffer.from(s) : Buffer.alloc(0));

// ---- socket options -----------------------------------------------------------
function getBuf(fd: number, level: number, opt: number, len: number, what: string, where: any): Buffer {
  const b = Buffer.alloc(len);
  const n = check(tcpShimRaw().getsockopt(fd, level, opt, b, len), `getsockopt ${what}`, where);
  return b.subarray(0, n);
}
function tryInt(fd: number, level: number, opt: number): number | undefined {
  const b = Buffer.alloc(4);
  return tcpShimRaw().getsockopt(fd, level, opt, b, 4) >= 0 ? b.readInt32LE(0) : undefined;
}

function dumpSkOpts(fd: number, where: any): any {
  const i = (o: number, n: string) => getSockInt(fd, SOL_SOCKET, o, n, where);
  const tv = (o: number, n: string) => { const b = getBuf(fd, SOL_SOCKET, o, 16, n, where); return [Number(b.readBigInt64LE(0)), Number(b.readBigInt64LE(8))]; };
  const [sts, stu] = tv(SO.SNDTIMEO, 'SO_SNDTIMEO');
  const [rts, rtu] = tv(SO.RCVTIMEO, 'SO_RCVTIMEO');
  const o: any = {
    so_sndbuf: i(SO.SNDBUF, 'SO_SNDBUF'), so_rcvbuf: i(SO.RCVBUF, 'SO_RCVBUF'),
    so_snd_tmo_sec: sts, so_snd_tmo_usec: stu, so_rcv_tmo_sec: rts, so_rcv_tmo_usec: rtu,
    reuseaddr: i(SO.REUSEADDR, 'SO_REUSEADDR') !== 0,
    so_priority: i(SO.PRIORITY, 'SO_PRIORITY'), so_rcvlowat: i(SO.RCVLOWAT, 'SO_RCVLOWAT'),
  };
  const mark = i(SO.MARK, 'SO_MARK'); if (mark) o.so_mark = mark;
  if (tryInt(fd, SOL_SOCKET, SO.PASSCRED)) o.so_passcred = true;
  o.so_dontroute = i(SO.DONTROUTE, 'SO_DONTROUTE') !== 0;
  o.so_no_check = (tryInt(fd, SOL_SOCKET, SO.NO_CHECK) ?? 0) !== 0;
  const dev = getBuf(fd, SOL_SOCKET, SO.BINDTODEVICE, 16, 'SO_BINDTODEVICE', where).toString('latin1').replace(/\0.*$/s, '');
  if (dev) o.so_bound_dev = dev;
  o.so_reuseport = i(SO.REUSEPORT, 'SO_REUSEPORT') !== 0;
  o.so_broadcast = i(SO.BROADCAST, 'SO_BROADCAST') !== 0;
  o.so_keepalive = i(SO.KEEPALIVE, 'SO_KEEPALIVE') !== 0;
  o.so_oobinline = i(SO.OOBINLINE, 'SO_OOBINLINE');
  const lg = getBuf(fd, SOL_SOCKET, SO.LINGER, 8, 'SO_LINGER', where);
  if (lg.readInt32LE(0)) o.so_linger = lg.readInt32LE(4);
  o.so_buf_lock = tryInt(fd, SOL_SOCKET, SO.BUF_LOCK) ?? 0;
  return o;
}

function restoreSkOpts(fd: number, o: any, where: any): void {
  if (!o) return;
  const set = (opt: number, v: number, n: string) => setSockInt(fd, SOL_SOCKET, opt, v, n, where);
  const lock = Number(o.so_buf_lock ?? 0);
  // the kernel doubles what it is given; only locked sizes were set by the program
  if (lock & 1) set(SO.SNDBUFFORCE, Math.floor(Number(o.so_sndbuf) / 2), 'SO_SNDBUFFORCE');
  if (lock & 2) set(SO.RCVBUFFORCE, Math.floor(Number(o.so_rcvbuf) / 2), 'SO_RCVBUFFORCE');
  const tv = (opt: number, s: any, u: any, n: string) => {
    if (!Number(s) && !Number(u)) return;
    const b = Buffer.alloc(16); b.writeBigInt64LE(BigInt(s ?? 0), 0); b.writeBigInt64LE(BigInt(u ?? 0), 8);
    check(tcpShimRaw().setsockopt(fd, SOL_SOCKET, opt, b, 16), `setsockopt ${n}`, where);
  };
  tv(SO.SNDTIMEO, o.so_snd_tmo_sec, o.so_snd_tmo_usec, 'SO_SNDTIMEO');
  tv(SO.RCVTIMEO, o.so_rcv_tmo_sec, o.so_rcv_tmo_usec, 'SO_RCVTIMEO');
  if (o.reuseaddr) set(SO.REUSEADDR, 1, 'SO_REUSEADDR');
  if (o.so_priority) set(SO.PRIORITY, o.so_priority, 'SO_PRIORITY');
  if (o.so_rcvlowat && o.so_rcvlowat !== 1) set(SO.RCVLOWAT, o.so_rcvlowat, 'SO_RCVLOWAT');
  if (o.so_mark) set(SO.MARK, o.so_mark, 'SO_MARK');
  if (o.so_passcred) set(SO.PASSCRED, 1, 'SO_PASSCRED');
  if (o.so_dontroute) set(SO.DONTROUTE, 1, 'SO_DONTROUTE');
  if (o.so_no_check) set(SO.NO_CHECK, 1, 'SO_NO_CHECK');
  if (o.so_bound_dev) {
    const b = Buffer.from(o.so_bound_dev + '\0');
    check(tcpShimRaw().setsockopt(fd, SOL_SOCKET, SO.BINDTODEVICE, b, b.length), `binding to device ${o.so_bound_dev}`, where);
  }
  if (o.so_reuseport) set(SO.REUSEPORT, 1, 'SO_REUSEPORT');
  if (o.so_broadcast) set(SO.BROADCAST, 1, 'SO_BROADCAST');
  if (o.so_keepalive) set(SO.KEEPALIVE, 1, 'SO_KEEPALIVE');
  if (o.so_oobinline) set(SO.OOBINLINE, 1, 'SO_OOBINLINE');
  if (o.so_linger !== undefined) {
    const b = Buffer.alloc(8); b.writeInt32LE(1, 0); b.writeInt32LE(Number(o.so_linger), 4);
    check(tcpShimRaw().setsockopt(fd, SOL_SOCKET, SO.LINGER, b, 8), 'setsockopt SO_LINGER', where);
  }
}

function dumpIpOpts(fd: number, family: number, where: any): any {
  const o: any = {};
  if (family === AF_INET) {
    if (getSockInt(fd, SOL_IP, IP_FREEBIND, 'IP_FREEBIND', where)) o.freebind = true;
    const tos = getSockInt(fd, SOL_IP, IP_TOS, 'IP_TOS', where); if (tos) o.tos = tos;
    o.ttl = getSockInt(fd, SOL_IP, IP_TTL, 'IP_TTL', where);
  } else {
    if (tryInt(fd, SOL_IPV6, IPV6_FREEBIND)) o.freebind = true;
  }
  return o;
}
function restoreIpOpts(fd: number, family: number, o: any, where: any): void {
  if (!o) return;
  if (family === AF_INET) {
    if (o.freebind) setSockInt(fd, SOL_IP, IP_FREEBIND, 1, 'IP_FREEBIND', where);
    if (o.tos) setSockInt(fd, SOL_IP, IP_TOS, o.tos, 'IP_TOS', where);
    if (o.ttl && o.ttl !== 64) setSockInt(fd, SOL_IP, IP_TTL, o.ttl, 'IP_TTL', where);
  } else if (o.freebind) setSockInt(fd, SOL_IPV6, IPV6_FREEBIND, 1, 'IPV6_FREEBIND', where);
}

function dumpTcpOpts(fd: number, where: any): any {
  const g = (o: number, n: string) => getSockInt(fd, SOL_TCP, o, n, where);
  const o: any = {};
  if (g(TCP_OPT.CORK, 'TCP_CORK')) o.cork = true;
  if (g(TCP_OPT.NODELAY, 'TCP_NODELAY')) o.nodelay = true;
  o.keepcnt = g(TCP_OPT.KEEPCNT, 'TCP_KEEPCNT');
  o.keepidle = g(TCP_OPT.KEEPIDLE, 'TCP_KEEPIDLE');
  o.keepintvl = g(TCP_OPT.KEEPINTVL, 'TCP_KEEPINTVL');
  return o;
}
function restoreTcpOpts(fd: number, o: any, where: any): void {
  if (!o) return;
  const s = (opt: number, v: number, n: string) => setSockInt(fd, SOL_TCP, opt, v, n, where);
  if (o.nodelay) s(TCP_OPT.NODELAY, 1, 'TCP_NODELAY');
  if (o.keepcnt && o.keepcnt !== 9) s(TCP_OPT.KEEPCNT, o.keepcnt, 'TCP_KEEPCNT');
  if (o.keepidle && o.keepidle !== 7200) s(TCP_OPT.KEEPIDLE, o.keepidle, 'TCP_KEEPIDLE');
  if (o.keepintvl && o.keepintvl !== 75) s(TCP_OPT.KEEPINTVL, o.keepintvl, 'TCP_KEEPINTVL');
}

// ---- dump ----------------------------------------------------------------------
/** Established TCP connections whose sockets `pid` holds, from /proc/PID/net/tcp{,6} (its namespace's table). */
export function establishedOf(pid: number): ConnTuple[] {
  const inodes = new Set<string>();
  try {
    for (const f of readdirSync(`/proc/${pid}/fd`)) {
      try { const m = readlinkSync(`/proc/${pid}/fd/${f}`).match(/^socket:\[(\d+)\]$/); if (m) inodes.add(m[1]); } catch { /* closed meanwhile */ }
    }
  } catch { return []; }
  const out: ConnTuple[] = [];
  for (const [file, family] of [['tcp', AF_INET], ['tcp6', AF_INET6]] as const) {
    let text = '';
    try { text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10 || !CONNECTED_STATES.has(parseInt(c[3], 16)) || !inodes.has(c[9])) continue;
      const end = (x: string) => { const [a, p] = x.split(':'); return { addr: addrToText(family, procAddr(a)), port: parseInt(p, 16) }; };
      const l = end(c[1]), r = end(c[2]);
      out.push({ family: FAMILY[family] as 'INET' | 'INET6', src: l.addr, sport: l.port, dst: r.addr, dport: r.port });
    }
  }
  return out;
}
/** /proc/net/tcp address: 32-bit words in host (little-endian) order. */
function procAddr(hex: string): Buffer {
  const b = Buffer.alloc(16);
  for (let w = 0; w < hex.length / 8; w++) b.writeUInt32LE(parseInt(hex.slice(w * 8, w * 8 + 8), 16) >>> 0, w * 4);
  return b;
}

/** Does `pid` live in another network namespace than tscr? (then sock_diag and nft must run there) */
function otherNetns(pid: number): boolean {
  try { return readlinkSync(`/proc/${pid}/ns/net`) !== readlinkSync('/proc/self/ns/net'); } catch { return false; }
}

export interface InetDumpResult { isk: any; stream?: any; tuple?: ConnTuple }

interface DumpState { lock?: NetLock; repaired: number[]; scanned: Set<number> }
function dumpState(ctx: { shared?: Map<string, unknown>; opts: Record<string, unknown>; pid: number }): DumpState {
  const m = ctx.shared ?? ((ctx as any).shared = new Map());
  let s = m.get('inet') as DumpState | undefined;
  if (!s) { s = { repaired: [], scanned: new Set() }; m.set('inet', s); }
  if (!s.lock) s.lock = new NetLock(String(ctx.opts.rootPid ?? ctx.pid), { netnsPid: otherNetns(ctx.pid) ? ctx.pid : undefined });
  return s;
}

const inoOf = (link: string): number => Number(link.match(/^socket:\[(\d+)\]$/)?.[1] ?? NaN);

/**
 * Describe one inet socket. `fd` is tscr's copy of the target's socket. For an
 * established TCP socket this locks the connection (state.lock), enters repair
 * mode and leaves it on (see finishInetDump).
 */
export function dumpInetSocket(
  ctx: Pick<DumpFdCtx, 'pid' | 'fd' | 'localFd' | 'link' | 'opts' | 'log' | 'shared'> & { info?: { flags: number } },
  id: number, netNsId?: number,
): InetDumpResult {
  const fd = ctx.localFd;
  const where = { pid: ctx.pid, fd: ctx.fd, kind: 'inet socket' };
  const sh = tcpShimRaw();
  const family = getSockInt(fd, SOL_SOCKET, SO.DOMAIN, 'SO_DOMAIN', where);
  const type = getSockInt(fd, SOL_SOCKET, SO.TYPE, 'SO_TYPE', where);
  const proto = getSockInt(fd, SOL_SOCKET, SO.PROTOCOL, 'SO_PROTOCOL', where);
  const ino = inoOf(ctx.link);
  const what = `${FAMILY[family] ?? family} ${PROTO[proto] ?? proto} socket (fd ${ctx.fd} of pid ${ctx.pid})`;
  if (!FAMILY[family] || !TYPE[type] || !PROTO[proto] || (type === SOCK_STREAM) !== (proto === IPPROTO_TCP)) {
    throw new TscrError('E_UNSUPPORTED', `unsupported: ${what}: socket type ${type} protocol ${proto} (tscr handles TCP and UDP)`, where);
  }
  const diag = Buffer.alloc(16);
  // sock_diag answers for the caller's network namespace: ask in the target's
  const diagCall = () => check(sh.inet_diag(family, proto, ino >>> 0, diag), 'sock_diag lookup', where);
  const found = otherNetns(ctx.pid) ? inNetns(`/proc/${ctx.pid}/ns/net`, diagCall) : diagCall();
  const local = sockName(fd, false, where);
  const peerRaw = Buffer.alloc(28);
  const hasPeer = sh.sock_name(fd, 1, peerRaw) >= 0;
  const peer = hasPeer ? { port: peerRaw.readInt32LE(4), addr: peerRaw.subarray(12, 28) } : { port: 0, addr: Buffer.alloc(16) };
  let state: number;
  if (proto === IPPROTO_TCP) {
    // the state from sock_diag, or from the first byte of TCP_INFO (tcpi_state)
    state = found ? diag.readUInt32LE(0) : 0;
    if (!found) {
      const b = Buffer.alloc(8);
      if (sh.getsockopt(fd, SOL_TCP, 11 /* TCP_INFO */, b, 8) >= 0) state = b[0];
    }
  } else state = hasPeer ? 1 : 7;
  const src = addrToText(family, local.addr), dst = addrToText(family, peer.addr);
  const desc = `${what} ${fmtEnd(src, local.port)} -> ${fmtEnd(dst, peer.port)}`;

  const isk: any = {
    id, ino, family: FAMILY[family], type: TYPE[type], proto: PROTO[proto], state: TCP_STATES[state] || String(state),
    src_port: local.port, dst_port: peer.port,
    flags: '0x' + (((ctx.info?.flags ?? 2) & ~0o2000000) >>> 0).toString(16),   // file status flags (no O_CLOEXEC: fdinfo has it)
    backlog: 0,
    src_addr: [src], dst_addr: [dst],
    fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 },
    opts: dumpSkOpts(fd, where),
  };
  if (family === AF_INET6) isk.v6only = getSockInt(fd, SOL_IPV6, IPV6_V6ONLY, 'IPV6_V6ONLY', where) !== 0;
  isk.ip_opts = dumpIpOpts(fd, family, where);
  isk.ns_id = netNsId ?? 2;   // the dump engine's net_ns_id (ids/inventory), as CRIU numbers it
  if (proto === IPPROTO_TCP) isk.tcp_opts = dumpTcpOpts(fd, where);

  if (proto === IPPROTO_UDP) return { isk };
  if (state === 10) {   // LISTEN
    isk.backlog = found ? diag.readUInt32LE(8) : 128;
    const pending = found ? diag.readUInt32LE(4) : 0;
    if (pending && !ctx.opts['tcp-skip-in-flight'] && !ctx.opts.tcpSkipInFlight) {
      throw new TscrError('E_UNSUPPORTED', `unsupported: ${desc} is listening with ${pending} connection(s) not accepted yet`, {
        ...where, hint: 'let the program accept them first, or dump with --tcp-skip-in-flight to drop them (their clients will see a reset)',
      });
    }
    return { isk };
  }
  if (state === 7) return { isk };   // CLOSE: created, maybe bound, never connected
  if (!CONNECTED_STATES.has(state)) {
    throw new TscrError('E_UNSUPPORTED', `unsupported: ${desc} is in TCP state ${TCP_STATES[state] ?? state}`, {
      ...where, hint: 'tscr migrates established, half-closed and listening TCP sockets; wait until the connection is established or closed',
    });
  }
  if (!ctx.opts['tcp-established'] && !ctx.opts.tcpEstablished) {
    throw new TscrError('E_UNSUPPORTED', `${desc} is an established TCP connection`, {
      ...where, hint: 'dump with --tcp-established to migrate it (and restore with --tcp-established)',
    });
  }
  // Lock the connection before reading its state, then freeze it in repair mode.
  const st = dumpState(ctx);
  const tuple: ConnTuple = { family: FAMILY[family] as any, src, sport: local.port, dst, dport: peer.port };
  // one nft call for every established connection of this process (a server with
  // hundreds of clients pays one process spawn, not hundreds), then this one for sure
  if (!st.scanned.has(ctx.pid)) { st.scanned.add(ctx.pid); st.lock!.add(establishedOf(ctx.pid)); }
  st.lock!.add([tuple]);
  const keep = check(sh.fd_dup(fd), 'dup', where);
  const r = sh.tcp_repair(fd, TCP_REPAIR_ON);
  if (r < 0) {
    sh.fd_close(keep);
    throw new TscrError('E_DUMP', `could not put ${desc} in TCP repair mode: ${errnoName(-r)}`, {
      ...where, errno: -r, hint: -r === 1 ? 'TCP repair needs root (CAP_NET_ADMIN in the socket\'s network namespace)' : undefined,
    });
  }
  st.repaired.push(keep);
  const sb = Buffer.alloc(72);
  check(sh.tcp_save(fd, sb), `reading the TCP state of ${desc}`, where);
  const s = tcpStateFromBuffer(sb);
  if (SNDQ_FIN.has(state)) {
    // our FIN sits in the send queue: it is no data (CRIU's convention; the restore puts it back)
    if (s.outq_len) s.outq_len--;
    if (s.unsq_len) s.unsq_len--;
  }
  const inq = peekQueue(fd, TCP_QUEUE.RECV, s.inq_len, desc, where);
  const outq = peekQueue(fd, TCP_QUEUE.SEND, s.outq_len, desc, where);
  const stream: any = {
    inq_len: s.inq_len, inq_seq: s.inq_seq, outq_len: s.outq_len, outq_seq: s.outq_seq,
    opt_mask: '0x' + s.opt_mask.toString(16), snd_wscale: s.snd_wscale, mss_clamp: s.mss_clamp,
    rcv_wscale: s.rcv_wscale, timestamp: s.timestamp, unsq_len: s.unsq_len,
  };
  if (s.has_window) Object.assign(stream, { snd_wl1: s.snd_wl1, snd_wnd: s.snd_wnd, max_window: s.max_window, rcv_wnd: s.rcv_wnd, rcv_wup: s.rcv_wup });
  stream.extra = { inq: critBase64(inq), outq: critBase64(outq) };
  ctx.log(`inet: ${desc}: inq ${s.inq_len} bytes, outq ${s.outq_len} (${s.unsq_len} unsent)`);
  return { isk, stream, tuple };
}

function peekQueue(fd: number, q: number, len: number, desc: string, where: any): Buffer {
  const b = Buffer.alloc(len + 1);
  const n = check(tcpShimRaw().tcp_peek_queue(fd, q, b, len), `reading the ${q === 1 ? 'receive' : 'send'} queue of ${desc}`, where);
  if (n !== len) throw new TscrError('E_DUMP', `the ${q === 1 ? 'receive' : 'send'} queue of ${desc} has ${n} bytes, expected ${len}`, where);
  return b.subarray(0, len);
}

function fmtEnd(a: string, p: number): string { return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`; }

/** End of a dump (see FdKind.dumpDone). */
export function finishInetDump(state: Map<string, unknown>, outcome: DumpOutcome): void {
  const s = state.get('inet') as DumpState | undefined;
  if (!s) return;
  state.delete('inet');
  const sh = tcpShimRaw();
  const close = closer();
  if (!outcome.ok || !outcome.treeKilled) {
    for (const fd of s.repaired) { sh.tcp_repair(fd, TCP_REPAIR_OFF); close(fd); }
    s.lock?.release();
    outcome.log(`inet: ${s.repaired.length} connection(s) left repair mode; network unlocked`);
  } else {
    // the tree is gone: its sockets close silently in repair mode; keep the lock for the restore
    for (const fd of s.repaired) close(fd);
    if (s.lock && s.lock.size) { s.lock.commit(); outcome.log(`inet: network stays locked (nft table inet ${s.lock.table}) until restore`); }
    else s.lock?.release();
  }
}

function int32(v: number): Buffer { const b = Buffer.alloc(4); b.writeInt32LE(v | 0, 0); return b; }

function closer(): (fd: number) => void {
  const sh = tcpShimRaw();
  return (fd) => { sh.fd_close(fd); };
}

// ---- restore ---------------------------------------------------------------------
interface RestoreState { lock?: NetLock; repaired: number[]; noReuse: number[]; scanned?: boolean }
function restoreState(shared: Map<string, unknown>, opts: Record<string, unknown>): RestoreState {
  let s = shared.get('inet') as RestoreState | undefined;
  if (!s) { s = { repaired: [], noReuse: [] }; shared.set('inet', s); }
  if (!s.lock) s.lock = new NetLock(String(opts.rootPid ?? 'restore'));
  return s;
}

/**
 * Re-create the socket an INETSK entry describes, in this process's network
 * namespace. Established TCP sockets need their TCP_STREAM entry; they are left
 * in repair mode (finishInetRestore leaves it) with the connection locked.
 */
export function restoreInetSocket(isk: any, stream: any | null, ctx: { shared: Map<string, unknown>; opts: Record<string, unknown>; log(t: string): void; pid?: number; fd?: number }): number {
  const family = byName(FAMILY, isk.family, 'family');
  const type = byName(TYPE, isk.type, 'type');
  const proto = byName(PROTO, isk.proto, 'protocol');
  const state = typeof isk.state === 'number' ? isk.state : TCP_STATES.indexOf(isk.state);
  const where = { pid: ctx.pid, fd: ctx.fd, kind: 'INETSK' };
  const sh = tcpShimRaw();
  const src = addrFromText(family, isk.src_addr), dst = addrFromText(family, isk.dst_addr);
  const srcT = addrToText(family, src), dstT = addrToText(family, dst);
  const desc = `${FAMILY[family]} ${PROTO[proto]} socket ${fmtEnd(srcT, isk.src_port)}${isk.dst_port ? ' -> ' + fmtEnd(dstT, isk.dst_port) : ''} (id ${isk.id})`;
  const fd = check(sh.socket(family, type, proto), `creating ${desc}`, where);
  const rs = restoreState(ctx.shared, ctx.opts);
  try {
    // file status flags (O_NONBLOCK matters: an event loop must not block in accept/read)
    const fl = typeof isk.flags === 'string' ? parseInt(isk.flags, isk.flags.startsWith('0x') ? 16 : 10) : Number(isk.flags ?? 0);
    if (fl & 0o4000) check(sh.fd_setfl(fd, fl & (0o4000 | 0o20000)), 'fcntl(F_SETFL)', where);
    if (family === AF_INET6 && isk.v6only !== undefined) setSockInt(fd, SOL_IPV6, IPV6_V6ONLY, isk.v6only ? 1 : 0, 'IPV6_V6ONLY', where);
    restoreSkOpts(fd, isk.opts, where);
    restoreIpOpts(fd, family, isk.ip_opts, where);
    if (proto === IPPROTO_TCP) {
      restoreTcpOpts(fd, isk.tcp_opts, where);
      // A listener and the connections it accepted share a port: bind them all with
      // SO_REUSEADDR, and give back the saved value in finishInetRestore.
      if (!isk.opts?.reuseaddr) {
        setSockInt(fd, SOL_SOCKET, SO.REUSEADDR, 1, 'SO_REUSEADDR', where);
        rs.noReuse.push(check(sh.fd_dup(fd), 'dup', where));
      }
    }
    const bindIt = () => {
      const r = sh.sock_bind(fd, family, src, isk.src_port, 0);
      if (r < 0) {
        throw new TscrError('E_RESTORE', `cannot bind ${desc}: ${errnoName(-r)}${-r === 98 ? ' (the port is taken)' : ''}`, {
          ...where, errno: -r,
          hint: -r === 98 ? (onlyTimeWait(isk.src_port)
            ? `only TIME_WAIT remnants of earlier connections hold port ${isk.src_port}, and the program did not set SO_REUSEADDR: retry in a minute`
            : `another socket holds ${fmtEnd(srcT, isk.src_port)} on this host: stop it, or restore in another network namespace`)
            : -r === 99 ? `this host has no address ${srcT}: restore where that address exists (e.g. a network namespace with it)` : undefined,
        });
      }
    };
    if (proto === IPPROTO_UDP) {
      if (isk.src_port || srcT !== '0.0.0.0' && srcT !== '::') bindIt();
      if (state === 1 && isk.dst_port) check(sh.sock_connect(fd, family, dst, isk.dst_port, 0), `connecting ${desc}`, where);
      return fd;
    }
    if (state === 10) {
      bindIt();
      check(sh.sock_listen(fd, isk.backlog || 128), `listen on ${desc}`, where);
      return fd;
    }
    if (state === 7) { if (isk.src_port) bindIt(); return fd; }
    if (!CONNECTED_STATES.has(state)) throw new TscrError('E_UNSUPPORTED', `unsupported: ${desc} in TCP state ${isk.state}`, where);
    if (!ctx.opts['tcp-established'] && !ctx.opts.tcpEstablished) {
      throw new TscrError('E_RESTORE', `${desc} is an established TCP connection`, { ...where, hint: 'restore with --tcp-established' });
    }
    if (!stream) throw new TscrError('E_NOT_FOUND', `${desc} has no tcp-stream image (tcp-stream-${Number(isk.ino).toString(16)}.img)`, where);
    rs.lock!.add([{ family: FAMILY[family] as 'INET' | 'INET6', src: srcT, sport: isk.src_port, dst: dstT, dport: isk.dst_port }]);
    const r = sh.tcp_repair(fd, TCP_REPAIR_ON);
    if (r < 0) {
      throw new TscrError('E_RESTORE', `the kernel refused TCP repair mode for ${desc}: ${errnoName(-r)}`, {
        ...where, errno: -r, hint: 'TCP repair needs root (CAP_NET_ADMIN in this network namespace)',
      });
    }
    const inq = fromBase64(stream.extra?.inq), outq = fromBase64(stream.extra?.outq);
    const s: Partial<TcpState> = {
      state: 1, inq_len: stream.inq_len, inq_seq: stream.inq_seq, outq_len: stream.outq_len, outq_seq: stream.outq_seq,
      unsq_len: stream.unsq_len ?? 0, opt_mask: typeof stream.opt_mask === 'string' ? parseInt(stream.opt_mask, 16) : stream.opt_mask,
      snd_wscale: stream.snd_wscale, rcv_wscale: stream.rcv_wscale ?? 0, mss_clamp: stream.mss_clamp, timestamp: stream.timestamp ?? 0,
      has_window: stream.snd_wnd !== undefined ? 1 : 0, snd_wl1: stream.snd_wl1, snd_wnd: stream.snd_wnd,
      max_window: stream.max_window, rcv_wnd: stream.rcv_wnd, rcv_wup: stream.rcv_wup,
    };
    // half-closed: rebuild the established connection as it was before the FINs
    if (RCVQ_FIN.has(state)) { s.inq_seq = (s.inq_seq! - 1) >>> 0; if (s.has_window) { s.rcv_wup = (s.rcv_wup! - 1) >>> 0; s.rcv_wnd = s.rcv_wnd! + 1; } }
    if (SNDQ_FIN.has(state)) s.outq_seq = (s.outq_seq! - 1) >>> 0;
    if (inq.length !== s.inq_len || outq.length !== s.outq_len) {
      throw new TscrError('E_INCONSISTENT', `tcp-stream of ${desc}: queues hold ${inq.length}/${outq.length} bytes, the entry says ${s.inq_len}/${s.outq_len}`, where);
    }
    // The queues must fit the buffers: give the socket the buffer sizes it had
    // (at least twice its queues), then give back the lock bits it had, so the
    // kernel keeps tuning buffers that the program never fixed.
    const sndbuf = Math.max(Number(isk.opts?.so_sndbuf ?? 0), 2 * outq.length + 65536);
    const rcvbuf = Math.max(Number(isk.opts?.so_rcvbuf ?? 0), 2 * inq.length + 65536);
    setSockInt(fd, SOL_SOCKET, SO.SNDBUFFORCE, Math.ceil(sndbuf / 2), 'SO_SNDBUFFORCE', where);
    setSockInt(fd, SOL_SOCKET, SO.RCVBUFFORCE, Math.ceil(rcvbuf / 2), 'SO_RCVBUFFORCE', where);
    const addrs = Buffer.alloc(52);
    addrs.writeInt32LE(family, 0); addrs.writeInt32LE(isk.src_port, 4); addrs.writeInt32LE(isk.dst_port, 8);
    src.copy(addrs, 20); dst.copy(addrs, 36);
    const step = new Int32Array(1);
    const rc = sh.tcp_restore(fd, tcpStateToBuffer(s), addrs, inq.length ? inq : Buffer.alloc(1), outq.length ? outq : Buffer.alloc(1), step);
    if (rc < 0) {
      const e = -rc;
      const taken = step[0] === 4 && (e === 99 || e === 98);
      throw new TscrError('E_RESTORE', `cannot rebuild ${desc}: ${TCP_RESTORE_STEPS[step[0]] ?? 'step ' + step[0]} failed: ${errnoName(e)}${taken ? ' (this address pair is already in use here)' : ''}`, {
        ...where, errno: e,
        hint: taken ? 'another socket on this host already uses this connection\'s addresses and ports: stop it or restore in another network namespace'
          : step[0] === 1 ? `this host needs the address ${srcT} (restore where it exists)` : undefined,
      });
    }
    if (state !== 1) finishHalfClosed(fd, state, s as TcpState, family, src, isk.src_port, dst, isk.dst_port, desc, where);
    if (sh.setsockopt(fd, SOL_SOCKET, SO.BUF_LOCK, int32(Number(isk.opts?.so_buf_lock ?? 0)), 4) < 0) {
      ctx.log(`inet: ${desc}: SO_BUF_LOCK not supported; buffer sizes stay fixed`);
    }
    rs.repaired.push(check(sh.fd_dup(fd), 'dup', where));
    ctx.log(`inet: rebuilt ${desc} (inq ${inq.length}, outq ${outq.length})`);
    return fd;
  } catch (e) {
    closer()(fd);
    throw e;
  }
}

// TCP states with FINs (as CRIU sorts them): ours in the send queue, the peer's received
const S = { ESTABLISHED: 1, FIN_WAIT1: 4, FIN_WAIT2: 5, CLOSE_WAIT: 8, LAST_ACK: 9, CLOSING: 11 };
const CONNECTED_STATES = new Set([S.ESTABLISHED, S.FIN_WAIT1, S.FIN_WAIT2, S.CLOSE_WAIT, S.LAST_ACK, S.CLOSING]);
const SNDQ_FIN = new Set([S.FIN_WAIT1, S.FIN_WAIT2, S.CLOSING, S.LAST_ACK]);
const RCVQ_FIN = new Set([S.CLOSE_WAIT, S.LAST_ACK, S.CLOSING]);
const TH_FIN = 1, TH_ACK = 16;

/** Put the FINs back into a rebuilt connection (still in repair mode), in the order they happened. */
function finishHalfClosed(fd: number, state: number, s: TcpState, family: number, src: Buffer, sport: number, dst: Buffer, dport: number, desc: string, where: any): void {
  const sh = tcpShimRaw();
  const ourFin = (acked: boolean) => {
    // shutdown in repair mode queues our FIN; under TCP_SEND_QUEUE it counts as sent already
    if (acked) check(sh.setsockopt(fd, SOL_TCP, 20 /* TCP_REPAIR_QUEUE */, int32(TCP_QUEUE.SEND), 4), `selecting the send queue of ${desc}`, where);
    check(sh.shutdown(fd, 1), `queueing the FIN of ${desc} (shutdown)`, where);
    if (acked) sh.setsockopt(fd, SOL_TCP, 20, int32(TCP_QUEUE.NONE), 4);
  };
  const win = Math.min(0xffff, s.snd_wnd >>> (s.snd_wscale || 0)) || 1;
  const fromPeer = (flags: number, seq: number, ack: number, what: string) => check(
    sh.tcp_inject(family, dst, dport, src, sport, seq >>> 0, ack >>> 0, flags, win, LOCK_BYPASS_MARK),
    `sending the peer's ${what} to ${desc} (raw socket)`, { ...where, hint: 'tscr writes that segment itself with a raw socket (needs CAP_NET_RAW)' });
  const sndUna = (s.outq_seq - s.outq_len) >>> 0;
  if (state === S.FIN_WAIT1 || state === S.FIN_WAIT2 || state === S.CLOSING) ourFin(state === S.FIN_WAIT2);
  if (RCVQ_FIN.has(state)) fromPeer(TH_FIN | TH_ACK, s.inq_seq, sndUna, 'FIN');
  if (state === S.LAST_ACK) ourFin(false);
  if (state === S.FIN_WAIT2) fromPeer(TH_ACK, s.inq_seq, s.outq_seq + 1, 'acknowledgment of our FIN');
}

/** End of a restore (see FdKind.restoreDone): leave repair mode, unlock. */
export function finishInetRestore(shared: Map<string, unknown>, ok: boolean, log: (t: string) => void, opts: Record<string, unknown> = {}): void {
  const s = shared.get('inet') as RestoreState | undefined;
  // the dump's lock (same table name) goes too, even if no socket was rebuilt
  const left = () => {
    if ((opts.tcpEstablished || opts['tcp-established']) && opts.rootPid !== undefined && releaseLeftLock(String(opts.rootPid))) {
      log(`inet: network lock of the dump (nft table inet tscr-${opts.rootPid}) removed`);
    }
  };
  if (!s) { left(); return; }
  shared.delete('inet');
  const sh = tcpShimRaw();
  const close = closer();
  for (const fd of s.noReuse) {
    if (ok) sh.setsockopt(fd, SOL_SOCKET, SO.REUSEADDR, Buffer.alloc(4), 4);
    close(fd);
  }
  for (const fd of s.repaired) {
    if (ok) sh.tcp_repair(fd, TCP_REPAIR_OFF);
    close(fd);   // on failure the sockets close in repair mode: silently
  }
  const hadTable = !!s.lock && s.lock.size > 0;   // same table name as the dump's: removing ours removed it
  s.lock?.release();
  if (!hadTable) left();
  log(`inet: ${s.repaired.length} connection(s) ${ok ? 'resumed' : 'dropped'}; network unlocked`);
}

/** Are all TCP sockets bound to local `port` in this namespace in TIME_WAIT? (/proc/net/tcp{,6}) */
function onlyTimeWait(port: number): boolean {
  let any = false;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 4) continue;
      if (parseInt(c[1].split(':')[1], 16) !== port) continue;
      if (c[3] !== '06') return false;
      any = true;
    }
  }
  return any;
}

// ---- recovery -------------------------------------------------------------------
/**
 * After a dump that could not clean up (tscr killed with SIGKILL): remove the lock
 * table and take every TCP socket of the tree (root `pid` and its descendants)
 * out of repair mode. The tree may still be frozen by nothing: ptrace ends with
 * its tracer, so the processes already run again.
 */
export function unlockTree(pid?: number, lockName?: string): { lock: string; lockRemoved: boolean; repaired: { pid: number; fd: number }[] } {
  const name = lockName?.replace(/^tscr-/, '') ?? String(pid);
  const netnsPid = pid && otherNetns(pid) ? pid : undefined;
  const lockRemoved = releaseLeftLock(name, netnsPid);
  const repaired: { pid: number; fd: number }[] = [];
  if (pid) {
    const sh = tcpShimRaw();
    const p = ptraceShimRaw();
    for (const q of descendants(pid)) {
      const pidfd = p.pidfd_open(q, 0);
      if (pidfd < 0) continue;
      try {
        let fds: string[] = [];
        try { fds = readdirSync(`/proc/${q}/fd`); } catch { continue; }
        for (const f of fds) {
          let link = '';
          try { link = readlinkSync(`/proc/${q}/fd/${f}`); } catch { continue; }
          if (!link.startsWith('socket:')) continue;
          const local = p.pidfd_getfd(pidfd, Number(f));
          if (local < 0) continue;
          try {
            const b = Buffer.alloc(4);
            if (sh.getsockopt(local, SOL_SOCKET, SO.PROTOCOL, b, 4) < 0 || b.readInt32LE(0) !== IPPROTO_TCP) continue;
            if (sh.getsockopt(local, SOL_TCP, 19 /* TCP_REPAIR */, b, 4) >= 0 && b.readInt32LE(0) === 1 && sh.tcp_repair(local, TCP_REPAIR_OFF) === 0) {
              repaired.push({ pid: q, fd: Number(f) });
            }
          } finally { sh.fd_close(local); }
        }
      } finally { sh.fd_close(pidfd); }
    }
  }
  return { lock: `tscr-${name}`, lockRemoved, repaired };
}

// ---- the FdKind ---------------------------------------------------------------
export const inetKind: FdKind = {
  kind: 'inet socket',
  types: ['INETSK'],
  match(ctx) {
    if (!ctx.link.startsWith('socket:')) return false;
    const d = Buffer.alloc(4);
    return tcpShimRaw().getsockopt(ctx.localFd, SOL_SOCKET, SO.DOMAIN, d, 4) >= 0 && [AF_INET, AF_INET6].includes(d.readInt32LE(0));
  },
  dump(ctx) {
    const ino = inoOf(ctx.link);
    const { id, isNew } = ctx.fileId(`socket:${ino}`);
    if (!isNew) return null;
    const r = dumpInetSocket(ctx, id, ctx.opts.netNsId as number | undefined);
    if (r.stream) {
      const file = `tcp-stream-${ino.toString(16)}.img`;
      if (ctx.addImageFile) ctx.addImageFile(file, 'TCP_STREAM', [r.stream]);
      else ctx.addEntry('TCP_STREAM', { ...r.stream, ino });
    }
    return { id, type: 'INETSK', isk: r.isk };
  },
  restore(ctx: RestoreFdCtx, fileEntry: any) {
    const isk = fileEntry.isk;
    let stream: any = null;
    const state = typeof isk.state === 'number' ? isk.state : TCP_STATES.indexOf(isk.state);
    if (byName(PROTO, isk.proto, 'protocol') === IPPROTO_TCP && CONNECTED_STATES.has(state)) {
      const file = `tcp-stream-${Number(isk.ino).toString(16)}.img`;
      stream = ctx.imageFile ? ctx.imageFile(file)?.[0] ?? null : (ctx.image('TCP_STREAM').find((e) => e.ino === isk.ino) ?? null);
    }
    if (stream) {
      // lock every established connection of the checkpoint in one nft call
      const rs = restoreState(ctx.shared, ctx.opts);
      if (!rs.scanned) {
        rs.scanned = true;
        const all: ConnTuple[] = [];
        for (const e of ctx.image('FILES') ?? []) {
          const k = e?.isk;
          const ks = typeof k?.state === 'number' ? k.state : TCP_STATES.indexOf(k?.state);
          if (!k || !CONNECTED_STATES.has(ks) || byName(PROTO, k.proto, 'protocol') !== IPPROTO_TCP) continue;
          const fam = byName(FAMILY, k.family, 'family');
          all.push({ family: FAMILY[fam] as 'INET' | 'INET6', src: addrToText(fam, addrFromText(fam, k.src_addr)), sport: k.src_port,
            dst: addrToText(fam, addrFromText(fam, k.dst_addr)), dport: k.dst_port });
        }
        rs.lock!.add(all);
      }
    }
    return restoreInetSocket(isk, stream, ctx);
  },
  dumpDone: finishInetDump,
  restoreDone: finishInetRestore,
};
