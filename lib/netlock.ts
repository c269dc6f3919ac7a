// Network lock for TCP connection migration (issue 5).
//
// While a tree's connections are dumped and until they are restored, no packet
// of those connections may reach or leave the host: a segment acknowledged by a
// socket whose state was already saved would be lost, and a peer's segment
// reaching a host where the socket is gone would be answered with a RST.
//
// Mechanism: nftables (the `nft` program, Debian package nftables). One table
// `inet tscr-<name>` per lock, with input and output filter chains that drop
// exactly the 4-tuples of the locked connections (both directions). Nothing
// else on the host is touched; several locks can coexist.
//
// Lifetime: a dump locks each connection just before putting its socket in
// repair mode. If the dump fails, or the tree keeps running (--leave-running),
// the lock is released. If the tree was killed, the lock stays (the peer must
// not see a RST) and the restore releases it once the sockets are back. The
// table name is derived from the root pid of the dumped tree, so the restore
// finds it again (the same idea as CRIU's per-dump nftables table).
//
// Every lock that this process created and did not hand over (commit) is
// removed on exit, on SIGINT/SIGTERM/SIGHUP, and on uncaught errors.

import { execFileSync } from 'node:child_process';
import { TscrError } from './errors.ts';

export interface ConnTuple {
  family: 'INET' | 'INET6';
  src: string; sport: number;   // the local end (the socket being dumped/restored)
  dst: string; dport: number;   // the peer
}

const live = new Set<NetLock>();

/** Packets with this mark pass the lock: the segments tscr makes up itself (a peer's FIN or ACK for a
 *  half-closed connection, shim/tcp.c tscr_tcp_inject). 'tscr' in ASCII. */
export const LOCK_BYPASS_MARK = 0x74736372;
let hooked = false;

function nft(args: string[], input?: string, netnsPid?: number): string {
  const argv = netnsPid ? ['nsenter', `--net=/proc/${netnsPid}/ns/net`, 'nft', ...args] : ['nft', ...args];
  try {
    return execFileSync(argv[0], argv.slice(1), { input, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8', timeout: 10000 });
  } catch (e: any) {
    if (e.code === 'ENOENT') {
      throw new TscrError('E_UNSUPPORTED', `the network lock needs nftables, and \`${argv[0]}\` is not installed`, {
        hint: 'apt-get install nftables (or dump without --tcp-established)',
      });
    }
    const msg = String(e.stderr || e.message || e).trim().split('\n')[0];
    throw new TscrError('E_KERNEL', `nft ${args.join(' ')} failed: ${msg}`, { hint: 'tscr needs root (CAP_NET_ADMIN) and nf_tables in the kernel to lock the network' });
  }
}

/** Is `nft` usable here? */
export function netlockAvailable(): boolean {
  try { nft(['--version']); return true; } catch { return false; }
}

/** Addresses as nft wants them: IPv4-mapped IPv6 connections travel as IPv4. */
function ruleFor(t: ConnTuple, dir: 'in' | 'out'): string {
  let fam: 'ip' | 'ip6' = t.family === 'INET' ? 'ip' : 'ip6';
  let src = t.src, dst = t.dst;
  const m4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
  if (fam === 'ip6' && m4.test(src) && m4.test(dst)) { fam = 'ip'; src = src.replace(m4, '$1'); dst = dst.replace(m4, '$1'); }
  return dir === 'out'
    ? `${fam} saddr ${src} ${fam} daddr ${dst} tcp sport ${t.sport} tcp dport ${t.dport} drop`
    : `${fam} saddr ${dst} ${fam} daddr ${src} tcp sport ${t.dport} tcp dport ${t.sport} drop`;
}

export function lockTableName(name: string | number): string {
  return `tscr-${String(name).replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export class NetLock {
  readonly table: string;
  readonly netnsPid?: number;
  private created = false;
  private keys = new Set<string>();
  private committed = false;

  /** `name`: usually the root pid of the dumped tree. `netnsPid`: lock inside that process's network namespace. */
  constructor(name: string | number, o: { netnsPid?: number } = {}) {
    this.table = lockTableName(name);
    this.netnsPid = o.netnsPid;
  }

  private ensure(): void {
    if (this.created) return;
    if (!hooked) installExitHooks();
    live.add(this);
    nft(['-f', '-'], [
      `table inet ${this.table} {`,
      '  chain in { type filter hook input priority -150; policy accept; }',
      '  chain out { type filter hook output priority -150; policy accept; }',
      '}',
      `insert rule inet ${this.table} in meta mark ${LOCK_BYPASS_MARK} accept`,
      `insert rule inet ${this.table} out meta mark ${LOCK_BYPASS_MARK} accept`,
    ].join('\n') + '\n', this.netnsPid);
    this.created = true;
  }

  /** Drop every packet of these connections, both ways, from now on. */
  add(tuples: ConnTuple[]): void {
    const fresh = tuples.filter((t) => !this.keys.has(key(t)));
    if (!fresh.length) { this.ensure(); return; }
    this.ensure();
    const lines = fresh.flatMap((t) => [
      `add rule inet ${this.table} in ${ruleFor(t, 'in')}`,
      `add rule inet ${this.table} out ${ruleFor(t, 'out')}`,
    ]);
    nft(['-f', '-'], lines.join('\n') + '\n', this.netnsPid);
    for (const t of fresh) this.keys.add(key(t));
  }

  get size(): number { return this.keys.size; }

  /** Keep the lock after this process exits (a dump whose tree was killed: the restore releases it). */
  commit(): void { this.committed = true; live.delete(this); }

  /** Remove the table (idempotent; never throws). */
  release(): void {
    live.delete(this);
    if (!this.created) return;
    this.created = false;
    this.keys.clear();
    try { nft(['delete', 'table', 'inet', this.table], undefined, this.netnsPid); } catch { /* already gone */ }
  }
}

function key(t: ConnTuple): string { return `${t.family} ${t.src} ${t.sport} ${t.dst} ${t.dport}`; }

/** Remove a lock left by an earlier dump (restore side). True if there was one. */
export function releaseLeftLock(name: string | number, netnsPid?: number): boolean {
  const table = lockTableName(name);
  try { nft(['list', 'table', 'inet', table], undefined, netnsPid); } catch { return false; }
  try { nft(['delete', 'table', 'inet', table], undefined, netnsPid); } catch { return false; }
  return true;
}

/** Tables of tscr locks present in this network namespace (for diagnostics and tests). */
export function listLocks(netnsPid?: number): string[] {
  let out = '';
  try { out = nft(['list', 'tables'], undefined, netnsPid); } catch { return []; }
  return out.split('\n').map((l) => l.trim().match(/^table inet (tscr-\S+)/)?.[1]).filter((x): x is string => !!x);
}

function releaseAll(): void { for (const l of [...live]) l.release(); }

function installExitHooks(): void {
  hooked = true;
  process.on('exit', releaseAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      releaseAll();
      process.kill(process.pid, sig);   // default action now that our handler is gone
    });
  }
}
