// Unix sockets: stream, datagram, seqpacket; socketpairs; bound, listening and
// connected sockets; path and abstract names; queued data with datagram
// boundaries. files.img UNIXSK {id, usk: {id, ino, type, state, flags, uflags,
// backlog, peer, fown, opts, name, shutdown?, file_perms?}}; queued data in
// SK_QUEUES {id_for, length, extra}, one entry per message (stream: per chunk),
// the socket whose receive queue holds it in id_for.
//
// Dump: NETLINK_SOCK_DIAG gives each socket's peer inode, name, state and queue
// sizes; MSG_PEEK with SO_PEEK_OFF copies the receive queue without consuming it.
// A peer outside the dumped tree is refused (finishDump) unless --ext-unix-sk:
// then the peer is written as an external entry (uflags 0x1, no fd) and the
// restored socket reconnects to its name.
//
// Restore: mutual peers become one socketpair (names bound again when no other
// socket of the image owns them); listening sockets bind and listen; dgram
// sockets connected one way connect to their peer's name; the bytes queued for
// a socket are sent again by its peer, in order, message by message.
import { existsSync, lstatSync, unlinkSync, chmodSync, chownSync } from 'node:fs';
import type { FdKind, DumpFdCtx, RestoreFdCtx, FinishDumpCtx } from './types.ts';
import { TscrError } from '../errors.ts';
import {
  O, FOWN, hex, num, big, fds, ck, fileFlags, setFl, cachedOfd, closeFd, dumpShared, critB64, fromB64, quopriEncode, quopriDecode,
  parseFlags, unsupported,
} from './fdutil.ts';

const AF_UNIX = 1, SOL_SOCKET = 1;
const SO = {
  REUSEADDR: 2, TYPE: 3, DONTROUTE: 5, BROADCAST: 6, SNDBUF: 7, RCVBUF: 8, KEEPALIVE: 9, OOBINLINE: 10, NO_CHECK: 11, PRIORITY: 12,
  LINGER: 13, REUSEPORT: 15, PASSCRED: 16, RCVLOWAT: 18, RCVTIMEO: 20, SNDTIMEO: 21, SNDBUFFORCE: 32, RCVBUFFORCE: 33, PASSSEC: 34,
  MARK: 36, DOMAIN: 39, BUF_LOCK: 72,
} as const;
const TYPES: Record<number, string> = { 1: 'STREAM', 2: 'DGRAM', 5: 'SEQPACKET' };
const TYPE_NUM: Record<string, number> = { STREAM: 1, DGRAM: 2, SEQPACKET: 5 };
const STATES: Record<number, string> = { 1: 'ESTABLISHED', 7: 'CLOSE', 10: 'LISTEN' };
const STATE_NUM: Record<string, number> = { ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, CLOSE: 7, LISTEN: 10 };
const SHUT = ['NONE', 'READ', 'WRITE', 'BOTH'];
const USK_EXTERN = 1;
const MAX_QUEUE = 64 * 1024 * 1024;

export interface UnixDiag {
  ino: number; peer: number; type: number; state: number; rqlen: number; wqlen: number; shutdown: number;
  vfsDev: number; vfsIno: number; nicons: number; name: Buffer; uid: number;
}

/** Every unix socket of tscr's network namespace (one NETLINK_SOCK_DIAG dump). */
export function unixDiag(): Map<number, UnixDiag> {
  let max = 4096;
  for (;;) {
    const buf = Buffer.alloc(160 * max);
    const n = fds().unix_diag(buf, max);
    if (n === -28 /* ENOSPC */ && max < 1 << 20) { max *= 4; continue; }
    ck(n, 'NETLINK_SOCK_DIAG dump of unix sockets');
    const out = new Map<number, UnixDiag>();
    for (let i = 0; i < n; i++) {
      const o = i * 160;
      const u = (k: number) => buf.readUInt32LE(o + k * 4);
      let namelen = u(10);
      // path names bound with the whole sockaddr carry NULs after the path
      if (namelen && buf[o + 48] !== 0) while (namelen && buf[o + 48 + namelen - 1] === 0) namelen--;
      out.set(u(0), {
        ino: u(0), peer: u(1), type: u(2), state: u(3), rqlen: u(4), wqlen: u(5), shutdown: u(6), vfsDev: u(7), vfsIno: u(8),
        nicons: u(9), uid: u(11), name: Buffer.from(buf.subarray(o + 48, o + 48 + namelen)),
      });
    }
    return out;
  }
}

function diagOf(ctx: DumpFdCtx, ino: number): UnixDiag | undefined {
  const shared = dumpShared(ctx);
  let table = shared.get('unix:diag') as Map<number, UnixDiag> | undefined;
  if (!table || !table.has(ino)) { table = unixDiag(); shared.set('unix:diag', table); }
  return table.get(ino);
}

function getInt(fd: number, opt: number): number {
  const b = Buffer.alloc(4);
  ck(fds().getsockopt(fd, SOL_SOCKET, opt, b, 4), `getsockopt(${opt})`);
  return b.readInt32LE(0);
}
function setInt(fd: number, opt: number, v: number, what: string) {
  const b = Buffer.alloc(4); b.writeInt32LE(v | 0);
  ck(fds().setsockopt(fd, SOL_SOCKET, opt, b, 4), `setsockopt(${what})`);
}
/** Buffer sizes: the FORCE option (root) so the image's value is taken as it is, else the plain one. */
function setBuf(fd: number, force: number, plain: number, v: number, what: string) {
  const b = Buffer.alloc(4); b.writeInt32LE(v | 0);
  if (fds().setsockopt(fd, SOL_SOCKET, force, b, 4) >= 0) return;
  ck(fds().setsockopt(fd, SOL_SOCKET, plain, b, 4), `setsockopt(${what})`);
}
function getTv(fd: number, opt: number): [number, number] {
  const b = Buffer.alloc(16);
  ck(fds().getsockopt(fd, SOL_SOCKET, opt, b, 16), `getsockopt(${opt})`);
  return [Number(b.readBigInt64LE(0)), Number(b.readBigInt64LE(8))];
}

function dumpOpts(fd: number): any {
  const [ss, su] = getTv(fd, SO.SNDTIMEO);
  const [rs, ru] = getTv(fd, SO.RCVTIMEO);
  const o: any = {
    so_sndbuf: getInt(fd, SO.SNDBUF), so_rcvbuf: getInt(fd, SO.RCVBUF),
    so_snd_tmo_sec: ss, so_snd_tmo_usec: su, so_rcv_tmo_sec: rs, so_rcv_tmo_usec: ru,
    reuseaddr: !!getInt(fd, SO.REUSEADDR), so_priority: getInt(fd, SO.PRIORITY), so_rcvlowat: getInt(fd, SO.RCVLOWAT),
  };
  const mark = getInt(fd, SO.MARK);
  if (mark) o.so_mark = mark;
  Object.assign(o, {
    so_passcred: !!getInt(fd, SO.PASSCRED), so_passsec: !!getInt(fd, SO.PASSSEC), so_dontroute: !!getInt(fd, SO.DONTROUTE),
    so_no_check: !!getInt(fd, SO.NO_CHECK), so_reuseport: !!getInt(fd, SO.REUSEPORT), so_broadcast: !!getInt(fd, SO.BROADCAST),
    so_keepalive: !!getInt(fd, SO.KEEPALIVE), so_oobinline: getInt(fd, SO.OOBINLINE),
  });
  const lb = Buffer.alloc(8);
  ck(fds().getsockopt(fd, SOL_SOCKET, SO.LINGER, lb, 8), 'getsockopt(SO_LINGER)');
  if (lb.readInt32LE(0)) o.so_linger = lb.readInt32LE(4);
  const bl = fds().getsockopt(fd, SOL_SOCKET, SO.BUF_LOCK, Buffer.alloc(4), 4);
  o.so_buf_lock = bl >= 0 ? getInt(fd, SO.BUF_LOCK) : 0;
  return o;
}

function restoreOpts(fd: number, o: any) {
  if (!o) return;
  if (o.so_sndbuf) setBuf(fd, SO.SNDBUFFORCE, SO.SNDBUF, Math.floor(num(o.so_sndbuf) / 2), 'SO_SNDBUF');
  if (o.so_rcvbuf) setBuf(fd, SO.RCVBUFFORCE, SO.RCVBUF, Math.floor(num(o.so_rcvbuf) / 2), 'SO_RCVBUF');
  const tv = (opt: number, s: unknown, u: unknown, what: string) => {
    if (!num(s) && !num(u)) return;
    const b = Buffer.alloc(16); b.writeBigInt64LE(big(s), 0); b.writeBigInt64LE(big(u), 8);
    ck(fds().setsockopt(fd, SOL_SOCKET, opt, b, 16), `setsockopt(${what})`);
  };
  tv(SO.SNDTIMEO, o.so_snd_tmo_sec, o.so_snd_tmo_usec, 'SO_SNDTIMEO');
  tv(SO.RCVTIMEO, o.so_rcv_tmo_sec, o.so_rcv_tmo_usec, 'SO_RCVTIMEO');
  const flag = (v: unknown, opt: number, what: string) => { if (v) setInt(fd, opt, 1, what); };
  flag(o.reuseaddr, SO.REUSEADDR, 'SO_REUSEADDR');
  flag(o.so_passcred, SO.PASSCRED, 'SO_PASSCRED');
  flag(o.so_passsec, SO.PASSSEC, 'SO_PASSSEC');
  flag(o.so_dontroute, SO.DONTROUTE, 'SO_DONTROUTE');
  flag(o.so_reuseport, SO.REUSEPORT, 'SO_REUSEPORT');
  flag(o.so_broadcast, SO.BROADCAST, 'SO_BROADCAST');
  flag(o.so_keepalive, SO.KEEPALIVE, 'SO_KEEPALIVE');
  flag(o.so_oobinline, SO.OOBINLINE, 'SO_OOBINLINE');
  if (num(o.so_priority)) setInt(fd, SO.PRIORITY, num(o.so_priority), 'SO_PRIORITY');
  if (num(o.so_rcvlowat) > 1) setInt(fd, SO.RCVLOWAT, num(o.so_rcvlowat), 'SO_RCVLOWAT');
  if (num(o.so_mark)) setInt(fd, SO.MARK, num(o.so_mark), 'SO_MARK');
  if (o.so_linger !== undefined) {
    const b = Buffer.alloc(8); b.writeInt32LE(1, 0); b.writeInt32LE(num(o.so_linger), 4);
    ck(fds().setsockopt(fd, SOL_SOCKET, SO.LINGER, b, 8), 'setsockopt(SO_LINGER)');
  }
  if (num(o.so_buf_lock)) fds().setsockopt(fd, SOL_SOCKET, SO.BUF_LOCK, Buffer.from(Int32Array.of(num(o.so_buf_lock)).buffer), 4);
}

/** The receive queue of a socket, copied without consuming it. */
function peekQueue(ctx: DumpFdCtx, d: UnixDiag): Buffer[] {
  const cap = Math.min(MAX_QUEUE, Math.max(1 << 16, getInt(ctx.localFd, SO.RCVBUF) * 2 + (d.rqlen || 0) + 4096));
  const buf = Buffer.alloc(cap);
  const maxMsgs = 1 << 16;
  const lens = new Int32Array(maxMsgs);
  const n = new Int32Array(1);
  const r = Number(fds().sk_peek(ctx.localFd, d.type === 1 ? 1 : 0, buf, cap, lens, maxMsgs, n));
  if (r === -74 /* EBADMSG */) {
    throw unsupported('unix socket with file descriptors in flight (SCM_RIGHTS)', ctx,
      'the program has sent file descriptors that were not received yet; dump again once they are read');
  }
  if (r === -28) throw new TscrError('E_TOO_LARGE', `unix socket fd ${ctx.fd} of pid ${ctx.pid}: its receive queue is too large to copy`, { pid: ctx.pid, fd: ctx.fd });
  ck(r, 'MSG_PEEK of a unix socket queue', { pid: ctx.pid, fd: ctx.fd });
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; i < n[0]; i++) { out.push(Buffer.from(buf.subarray(off, off + lens[i]))); off += lens[i]; }
  return out;
}

function nameEntry(name: Buffer): string { return name.length ? quopriEncode(name) : ''; }

interface Dumped { pid: number; fd: number; peer: number; peerName?: Buffer; usk: any; state: number; name: Buffer }

/** The entry of a peer outside the tree (no fd holds it; uflags USK_EXTERN): restore connects to its name. */
function extEntry(id: number, ino: number, type: unknown, state: unknown, name: Buffer): any {
  return {
    id, ino, type, state, flags: '0x2', uflags: hex(USK_EXTERN), backlog: 0, peer: 0, fown: FOWN(),
    opts: { so_sndbuf: 0, so_rcvbuf: 0, so_snd_tmo_sec: 0, so_snd_tmo_usec: 0, so_rcv_tmo_sec: 0, so_rcv_tmo_usec: 0 },
    name: nameEntry(name),
  };
}

export const unix: FdKind = {
  kind: 'unix socket',
  types: ['UNIXSK'],
  match(ctx) {
    if (!ctx.link.startsWith('socket:[')) return false;
    const b = Buffer.alloc(4);
    return fds().getsockopt(ctx.localFd, SOL_SOCKET, SO.DOMAIN, b, 4) >= 0 && b.readInt32LE(0) === AF_UNIX;
  },
  dump(ctx) {
    const ino = Number(ctx.stat.ino);
    const { id, isNew } = ctx.fileId(`unix:${ino}`);
    if (!isNew) return null;
    const d = diagOf(ctx, ino);
    if (!d) throw new TscrError('E_DUMP', `unix socket fd ${ctx.fd} of pid ${ctx.pid} (inode ${ino}) is not in this network namespace`, { pid: ctx.pid, fd: ctx.fd, hint: 'run tscr in the network namespace of the target' });
    if (!TYPES[d.type]) throw unsupported(`unix socket of type ${d.type}`, ctx);
    if (d.state === 10 && d.nicons > 0) {
      throw unsupported(`listening unix socket with ${d.nicons} connection(s) not yet accepted`, ctx, 'dump again once the program has accepted its pending connections');
    }
    const usk: any = {
      id, ino, type: TYPES[d.type], state: STATES[d.state] ?? d.state, flags: hex(fileFlags(ctx)), uflags: '0x0',
      backlog: d.wqlen, peer: d.peer, fown: FOWN(), opts: dumpOpts(ctx.localFd), name: nameEntry(d.name),
    };
    if (d.shutdown) usk.shutdown = SHUT[d.shutdown & 3];
    if (d.name.length && d.name[0] !== 0) {
      const path = d.name.toString('utf8');
      try {
        const st = lstatSync(path);
        if (st.ino === d.vfsIno) usk.file_perms = { mode: st.mode, uid: st.uid, gid: st.gid };
        else usk.deleted = true;
      } catch { usk.deleted = true; }
    }
    if (d.state !== 10) {
      const msgs = d.rqlen > 0 || d.type !== 1 ? peekQueue(ctx, d) : [];
      for (const m of msgs) ctx.addEntry('SK_QUEUES', { id_for: id, length: m.length, extra: critB64(m) });
    }
    // A stream/seqpacket socket connected to a listener that has not accepted it yet:
    // its peer (the embryo) has no inode; the listener's name says where it goes.
    let peerName: Buffer | undefined;
    if (d.type !== 2 && d.state === 1 && !d.peer && (d.shutdown & 3) !== 3) {
      const nb = Buffer.alloc(112);
      const n = fds().sockname(ctx.localFd, 1, nb);
      if (n > 0) peerName = Buffer.from(nb.subarray(0, n));
    }
    const shared = dumpShared(ctx);
    let dumped = shared.get('unix:dumped') as Map<number, Dumped> | undefined;
    if (!dumped) { dumped = new Map(); shared.set('unix:dumped', dumped); }
    dumped.set(ino, { pid: ctx.pid, fd: ctx.fd, peer: d.peer, peerName, usk, state: d.state, name: d.name });
    return { type: 'UNIXSK', id, usk };
  },
  finishDump(ctx: FinishDumpCtx) {
    const dumped = ctx.shared.get('unix:dumped') as Map<number, Dumped> | undefined;
    if (!dumped) return;
    const table = (ctx.shared.get('unix:diag') as Map<number, UnixDiag> | undefined) ?? unixDiag();
    const extOk = !!(ctx.opts['ext-unix-sk'] || ctx.opts['extUnixSk']);
    for (const [ino, s] of dumped) {
      if (!s.peerName) continue;
      const listener = [...dumped.values()].find((o) => o.state === 10 && o.name.equals(s.peerName!));
      if (listener) continue; // the listener was refused already (connections not yet accepted)
      const shown = JSON.stringify(s.peerName.toString('latin1').replace(/\0/g, '@'));
      if (!extOk) {
        throw new TscrError('E_UNSUPPORTED', `unsupported: unix socket fd ${s.fd} of pid ${s.pid} (inode ${ino}) is connected to ${shown} outside the dumped processes (not accepted yet)`, {
          pid: s.pid, fd: s.fd, kind: 'unix socket',
          hint: 'dump the process at the other end too, or pass --ext-unix-sk to reconnect to it by name on restore. The process was left running as it was.',
        });
      }
      const { id } = ctx.fileId(`unix:ext-name:${s.peerName.toString('latin1')}`);
      const fake = 0xf0000000 + id; // the embryo has no inode: a stand-in, unique in this image
      if (!dumped.has(fake)) {
        ctx.addEntry('FILES', { type: 'UNIXSK', id, usk: extEntry(id, fake, s.usk.type, 'LISTEN', s.peerName) });
      }
      s.usk.peer = fake;
    }
    for (const [ino, s] of dumped) {
      if (!s.peer || dumped.has(s.peer)) continue;
      const p = table.get(s.peer);
      if (!p) continue; // the peer is gone (closed): restored as a socket whose peer closed
      if (!extOk) {
        throw new TscrError('E_UNSUPPORTED', `unsupported: unix socket fd ${s.fd} of pid ${s.pid} (inode ${ino}) is connected to socket ${s.peer}${p.name.length ? ' ' + JSON.stringify(p.name.toString('latin1').replace(/\0/g, '@')) : ''} outside the dumped processes`, {
          pid: s.pid, fd: s.fd, kind: 'unix socket',
          hint: 'dump the process at the other end too, or pass --ext-unix-sk to reconnect to it by name on restore. The process was left running as it was.',
        });
      }
      if (!p.name.length) {
        throw new TscrError('E_UNSUPPORTED', `unsupported: unix socket fd ${s.fd} of pid ${s.pid} is connected to an unnamed socket outside the dumped processes`, { pid: s.pid, fd: s.fd, kind: 'unix socket', hint: 'an external peer can only be reconnected by name' });
      }
      const key = `unix:${p.ino}`;
      const { id, isNew } = ctx.fileId(key);
      if (isNew) {
        ctx.addEntry('FILES', { type: 'UNIXSK', id, usk: extEntry(id, p.ino, TYPES[p.type] ?? p.type, STATES[p.state] ?? p.state, p.name) });
      }
    }
  },
  async restore(ctx, file) {
    const usk = file.usk;
    const flags = parseFlags(usk.flags);
    const fd = await socketFor(ctx, num(usk.ino));
    try { setFl(fd, flags); } catch (e) { closeFd(fd); throw e; }
    return fd;
  },
};

// ---------------------------------------------------------------------------
// restore

interface Usk { id: number; ino: number; type: number; state: number; peer: number; name: Buffer; extern: boolean; e: any }

function sockets(ctx: RestoreFdCtx): Map<number, Usk> {
  let m = ctx.shared.get('unix:all') as Map<number, Usk> | undefined;
  if (m) return m;
  m = new Map();
  for (const f of ctx.image('FILES') ?? []) {
    if (f.type !== 'UNIXSK' || !f.usk) continue;
    const e = f.usk;
    const type = typeof e.type === 'string' ? TYPE_NUM[e.type] : num(e.type);
    const state = typeof e.state === 'string' ? STATE_NUM[e.state] : num(e.state);
    const name = typeof e.name === 'string' ? quopriDecode(e.name) : Buffer.from(e.name ?? []);
    m.set(num(e.ino), { id: num(f.id), ino: num(e.ino), type, state, peer: num(e.peer), name, extern: !!(parseFlags(e.uflags) & USK_EXTERN), e });
  }
  ctx.shared.set('unix:all', m);
  return m;
}

function queueOf(ctx: RestoreFdCtx, id: number): Buffer[] {
  return (ctx.image('SK_QUEUES') ?? []).filter((q: any) => num(q.id_for) === id).map((q: any) => {
    const b = fromB64(q.extra);
    if (b.length !== num(q.length)) throw new TscrError('E_CORRUPT', `sk-queues entry for socket ${id}: length ${num(q.length)} but ${b.length} bytes`, { kind: 'SK_QUEUES' });
    return b;
  });
}

const nameStr = (n: Buffer) => (n[0] === 0 ? '@' + n.subarray(1).toString('latin1') : n.toString('utf8'));

/** Is this name owned by another socket of the image (accepted sockets carry their listener's name)? */
function nameOwnedByOther(all: Map<number, Usk>, s: Usk): boolean {
  for (const o of all.values()) {
    if (o.ino === s.ino || o.extern || !o.name.equals(s.name)) continue;
    if (o.state === 10 || o.ino < s.ino) return true;
  }
  return false;
}

function bindName(ctx: RestoreFdCtx, fd: number, s: Usk, all: Map<number, Usk>) {
  if (!s.name.length || nameOwnedByOther(all, s)) return;
  if (s.name[0] !== 0) {
    const path = s.name.toString('utf8');
    // The socket file of the dumped process is still there: take its place.
    try { if (lstatSync(path).isSocket()) unlinkSync(path); } catch { /* not there */ }
  }
  const rc = fds().bind_un(fd, s.name, s.name.length);
  ck(rc, `binding unix socket to ${nameStr(s.name)}`, { pid: ctx.pid, fd: ctx.fd });
  if (s.name[0] !== 0) {
    const path = s.name.toString('utf8');
    const p = s.e.file_perms;
    if (p) { try { chmodSync(path, num(p.mode) & 0o7777); chownSync(path, num(p.uid), num(p.gid)); } catch { /* best effort */ } }
    if (s.e.deleted) { try { unlinkSync(path); } catch { /* gone */ } }
  }
}

function sendAll(ctx: RestoreFdCtx, via: number, msgs: Buffer[], what: string, to?: Buffer) {
  if (!msgs.length) return;
  const total = msgs.reduce((a, m) => a + m.length, 0);
  // Room for the whole queue in the sender, whatever the image's buffer sizes are (set after).
  setBuf(via, SO.SNDBUFFORCE, SO.SNDBUF, Math.max(total * 2 + (1 << 16), 1 << 18), 'SO_SNDBUF');
  for (const m of msgs) {
    const r = Number(to ? fds().sendto_un(via, m, m.length, to, to.length) : fds().send(via, m, m.length, 0x40 /* MSG_DONTWAIT */));
    ck(r, `refilling the queue of ${what}`, { pid: ctx.pid, fd: ctx.fd });
    if (r !== m.length) throw new TscrError('E_RESTORE', `refilling the queue of ${what}: sent ${r} of ${m.length} bytes`, { pid: ctx.pid, fd: ctx.fd });
  }
}

function shutdownOf(s: Usk): number {
  const v = s.e.shutdown;
  if (v === undefined) return 0;
  return typeof v === 'string' ? Math.max(0, SHUT.indexOf(v)) : num(v);
}
function applyShutdown(fd: number, s: Usk) {
  // sk_shutdown bits: 1 = no more receives, 2 = no more sends; shutdown(2) how: 0 RD, 1 WR, 2 RDWR
  const sh = shutdownOf(s);
  if (sh === 3) fds().shutdown(fd, 2);
  else if (sh === 1) fds().shutdown(fd, 0);
  else if (sh === 2) fds().shutdown(fd, 1);
}

async function socketFor(ctx: RestoreFdCtx, ino: number): Promise<number> {
  const all = sockets(ctx);
  const s = all.get(ino);
  if (!s) throw new TscrError('E_INCONSISTENT', `unix socket inode ${ino} is not in files.img`, { kind: 'FILES', pid: ctx.pid, fd: ctx.fd });
  if (s.extern) throw new TscrError('E_INCONSISTENT', `unix socket ${ino} is an external peer; no fd can hold it`, { kind: 'FILES', pid: ctx.pid, fd: ctx.fd });
  return cachedOfd(ctx, `unix:sock:${ino}`, () => createSocket(ctx, s, all));
}

/** Local socket for image socket s (made once; pairs make both ends at once). */
async function createSocket(ctx: RestoreFdCtx, s: Usk, all: Map<number, Usk>): Promise<number> {
  const made = ctx.shared.get(`unix:made:${s.ino}`) as number | undefined;
  if (made !== undefined) { ctx.shared.delete(`unix:made:${s.ino}`); return made; }
  const where = { pid: ctx.pid, fd: ctx.fd };
  if (!TYPES[s.type]) throw new TscrError('E_UNSUPPORTED', `unsupported: unix socket type ${s.type} in the image`, where);
  const peer = s.peer ? all.get(s.peer) : undefined;

  if (s.state === 10) {
    const fd = ck(fds().socket(AF_UNIX, s.type, 0), 'socket(AF_UNIX)', where);
    restoreOpts(fd, s.e.opts);
    bindName(ctx, fd, s, all);
    ck(fds().sk_listen(fd, Math.max(num(s.e.backlog), 1)), `listen on ${nameStr(s.name)}`, where);
    return fd;
  }

  if (peer && !peer.extern && peer.peer === s.ino) {
    // Mutual peers: one socketpair.
    const pair = new Int32Array(2);
    ck(fds().socketpair(s.type, pair), 'socketpair(AF_UNIX)', where);
    const [a, b] = [pair[0], pair[1]];
    for (const [fd, x] of [[a, s], [b, peer]] as [number, Usk][]) { bindName(ctx, fd, x, all); }
    sendAll(ctx, b, queueOf(ctx, s.id), `unix socket ${s.ino}`);
    sendAll(ctx, a, queueOf(ctx, peer.id), `unix socket ${peer.ino}`);
    for (const [fd, x] of [[a, s], [b, peer]] as [number, Usk][]) { restoreOpts(fd, x.e.opts); applyShutdown(fd, x); }
    ctx.shared.set(`unix:made:${peer.ino}`, b);
    return a;
  }

  const fd = ck(fds().socket(AF_UNIX, s.type, 0), 'socket(AF_UNIX)', where);
  try {
    bindName(ctx, fd, s, all);
    if (peer) {
      // Connected one way (a dgram socket to a bound one) or to an external peer: connect by name.
      if (!peer.name.length) throw new TscrError('E_UNSUPPORTED', `unsupported: unix socket ${s.ino} is connected to unnamed socket ${peer.ino} that is not its peer`, where);
      if (!peer.extern) { const pfd = await socketFor(ctx, peer.ino); closeFd(pfd); }
      const rc = fds().connect_un(fd, peer.name, peer.name.length);
      ck(rc, `connecting unix socket to ${nameStr(peer.name)}${peer.extern ? ' (external peer)' : ''}`, where);
      const q = queueOf(ctx, s.id);
      if (q.length) {
        if (peer.extern || !s.name.length) throw new TscrError('E_UNSUPPORTED', `unsupported: queued data for unix socket ${s.ino} that only its peer can send again`, where);
        const pfd = await socketFor(ctx, peer.ino);
        try { sendAll(ctx, pfd, q, `unix socket ${s.ino}`, s.name); } finally { closeFd(pfd); }
      }
    } else {
      const q = queueOf(ctx, s.id);
      if (q.length && s.type === 2 && s.name.length) {
        // A bound datagram socket: resend from an unnamed socket.
        const tmp = ck(fds().socket(AF_UNIX, 2, 0), 'socket(AF_UNIX)', where);
        try { sendAll(ctx, tmp, q, `unix socket ${s.ino}`, s.name); } finally { closeFd(tmp); }
      } else if (q.length || shutdownOf(s) === 3) {
        // The peer closed (or never existed): a pair whose other end writes the
        // queued bytes and closes, so the reader gets them, then EOF.
        closeFd(fd);
        const pair = new Int32Array(2);
        ck(fds().socketpair(s.type, pair), 'socketpair(AF_UNIX)', where);
        try { sendAll(ctx, pair[1], q, `unix socket ${s.ino}`); } finally { closeFd(pair[1]); }
        restoreOpts(pair[0], s.e.opts);
        applyShutdown(pair[0], s);
        return pair[0];
      }
    }
    restoreOpts(fd, s.e.opts);
    applyShutdown(fd, s);
    return fd;
  } catch (e) { closeFd(fd); throw e; }
}

export default unix;
