// Helpers for the TCP migration tests (issue 5): dump the inet sockets of a
// live process the way the dump engine does (pidfd_getfd copy -> inet module),
// and restore them in this process.
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import { dumpInetSocket, finishInetDump, restoreInetSocket, finishInetRestore, inetKind } from '../../lib/kinds/inet.ts';
import { check, ptraceShimRaw, tcpShimRaw, setSockInt } from '../../shim/native.ts';

export interface DumpedSock { fd: number; isk: any; stream?: any }

/** Dump every inet socket of `pid` (the engine's job; here with pidfd_getfd). */
export function dumpSockets(pid: number, opts: Record<string, unknown>, state: Map<string, unknown>, log: string[] = []): DumpedSock[] {
  const p = ptraceShimRaw();
  const pidfd = check(p.pidfd_open(pid, 0), 'pidfd_open');
  const out: DumpedSock[] = [];
  let id = 100;
  try {
    for (const name of readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b)) {
      let link: string;
      try { link = readlinkSync(`/proc/${pid}/fd/${name}`); } catch { continue; }
      if (!link.startsWith('socket:')) continue;
      const localFd = check(p.pidfd_getfd(pidfd, name), 'pidfd_getfd');
      try {
        const ctx: any = { pid, fd: name, localFd, link, opts, log: (t: string) => log.push(t), shared: state, info: { flags: 2 } };
        if (!inetKind.match(ctx)) continue;
        const r = dumpInetSocket(ctx, id++);
        out.push({ fd: name, isk: r.isk, stream: r.stream });
      } finally { p.close(localFd); }
    }
  } finally { p.close(pidfd); }
  return out;
}

export { finishInetDump, finishInetRestore, restoreInetSocket };

/** A blocking TCP client socket with a small receive buffer and a receive timeout. */
export function rawClient(family: 'INET' | 'INET6', addr: Buffer, port: number, rcvbuf = 0): number {
  const t = tcpShimRaw();
  const fam = family === 'INET' ? 2 : 10;
  const fd = check(t.socket(fam, 1, 6), 'socket');
  if (rcvbuf) setSockInt(fd, 1, 8, rcvbuf, 'SO_RCVBUF');
  check(t.sock_connect(fd, fam, addr, port, 0), 'connect');
  setTimeouts(fd, 5);
  return fd;
}

export function setTimeouts(fd: number, sec: number): void {
  const b = Buffer.alloc(16); b.writeBigInt64LE(BigInt(sec), 0);
  check(tcpShimRaw().setsockopt(fd, 1, 20, b, 16), 'SO_RCVTIMEO');
  check(tcpShimRaw().setsockopt(fd, 1, 21, b, 16), 'SO_SNDTIMEO');
}

export const pattern = (start: number, n: number, k = 7, c = 3): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = ((start + i) * k + c) & 255;
  return b;
};

export function ip4(s: string): Buffer { const b = Buffer.alloc(16); s.split('.').forEach((x, i) => { b[i] = Number(x); }); return b; }

export function readNum(path: string): number { return Number(readFileSync(path, 'utf8').trim()); }

import { readSync, writeSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES_BIN } from '../../lib/paths.ts';
import { waitFile } from './fixture.ts';

export function readExact(fd: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const r = readSync(fd, b, got, n - got, null);
    if (r === 0) throw new Error(`connection closed after ${got} of ${n} bytes`);
    got += r;
  }
  return b;
}
export function writeAll(fd: number, b: Buffer): void { let o = 0; while (o < b.length) o += writeSync(fd, b, o); }

export interface Server { pid: number; out: string; dir: string; sent: number; client: number; kill(): void }

/** Start fixtures/tcp_server (optionally under `ip netns exec NS`), connect with `connect(port)`. */
export async function startServer(args: string[], connect: (port: number) => number, netns?: string, o: { setsid?: boolean } = {}): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'tscr-tcp-'));
  const out = join(dir, 'srv.out');
  const bin = join(FIXTURES_BIN, 'tcp_server');
  const argv = netns ? ['ip', ['netns', 'exec', netns, bin, out, ...args]] as const : [bin, [out, ...args]] as const;
  const child = spawn(argv[0], argv[1] as string[], { stdio: 'ignore', detached: !!o.setsid });
  child.on('error', () => {});
  if (o.setsid) child.unref();
  let pid = 0, client = -1;
  const kill = () => {
    for (const p of [pid, child.pid]) { if (p) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } } }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = Number((await waitFile(out + '.port')).trim());
    client = connect(port);
    pid = Number((await waitFile(out + '.ready')).trim());
    const sent = Number((await waitFile(out + '.sent')).trim());
    return { pid, out, dir, sent, client, kill };
  } catch (e) { kill(); throw e; }
}

/** Close a socket without a FIN (repair mode first): no TIME_WAIT left on fixed ports. */
export function closeSilently(fd: number): void {
  try { tcpShimRaw().tcp_repair(fd, 1); } catch { /* not TCP */ }
  tcpShimRaw().fd_close(fd);
}
