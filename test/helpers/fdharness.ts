// A small stand-in for the dump and restore engines, for testing the fd kind
// modules (lib/kinds/*) against real processes before the engines exist:
//   dumpFds(pid)     takes each fd of a running process with pidfd_getfd, runs
//                    the module that matches it, and returns crit-shaped images
//                    (files, fdinfo, pipes-data, sk-queues, memfd, shmem pages).
//   restoreFds(img)  re-creates every object in this process with the modules'
//                    restore() and returns local fds by target fd number.
//   spawnWithFds()   starts a program with those fds at their numbers (the
//                    engine installs them by injection instead).
import { fstatSync, readFileSync, readdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { DumpFdCtx, RestoreFdCtx, FdKind } from '../../lib/kinds/types.ts';
import { fdKinds } from '../../lib/kinds/fdkinds.ts';
import { fdinfo, fdLink, fdList } from '../../lib/proc.ts';
import { ptraceShimRaw, fdsShim, check } from '../../shim/native.ts';
import { TscrError } from '../../lib/errors.ts';
import { FIXTURES_BIN } from '../../lib/paths.ts';
import { waitFile, sleep } from './fixture.ts';

export interface Dumped {
  files: any[];
  fdinfo: any[];
  images: Record<string, any[]>;
  shmem: Record<number, { off: number; data: string }[]>;
}

const jsonSafe = (x: any) => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));

export function dumpFds(pid: number, opts: Record<string, unknown> = {}, only?: (fd: number) => boolean): Dumped {
  const p = ptraceShimRaw();
  const pidfd = check(p.pidfd_open(pid, 0), `pidfd_open(${pid})`);
  let next = 1;
  let firstId: number | undefined;
  let curFd = -1;
  const byKey = new Map<string, { id: number; fd: number }[]>();
  // like the dump engine: one id per open file description, confirmed with kcmp
  const fileId = (key: string) => {
    const list = byKey.get(key) ?? [];
    byKey.set(key, list);
    let hit = curFd < 0 ? list[0] : list.find((c) => c.fd === curFd || p.kcmp(pid, pid, 0, curFd, c.fd) === 0);
    const isNew = !hit;
    if (!hit) { hit = { id: next++, fd: curFd }; list.push(hit); }
    if (firstId === undefined) firstId = hit.id;
    return { id: hit.id, isNew };
  };
  const images: Record<string, any[]> = {};
  const addEntry = (magic: string, e: any) => { (images[magic] ??= []).push(e); };
  const shmem: Record<number, { off: number; data: string }[]> = {};
  const shared = new Map<string, unknown>();
  const files: any[] = [];
  const fdi: any[] = [];
  const used = new Set<FdKind>();
  try {
    for (const fd of fdList(pid)) {
      if (fd < 3 || (only && !only(fd))) continue;
      const local = check(p.pidfd_getfd(pidfd, fd), `pidfd_getfd(${pid}, ${fd})`);
      try {
        const st = fstatSync(local, { bigint: true });
        const info = fdinfo(pid, fd);
        const ctx: DumpFdCtx = {
          pid, fd, localFd: local, link: fdLink(pid, fd),
          stat: { mode: Number(st.mode), dev: st.dev, ino: st.ino, rdev: st.rdev, size: st.size, uid: Number(st.uid), gid: Number(st.gid) },
          info, fileId, addEntry, opts, log: () => {}, shared,
          writeShmem: (shmid, runs) => { shmem[shmid] = runs.map((r) => ({ off: r.off, data: r.data.toString('base64') })); },
        };
        const kind = fdKinds.find((k) => k.match(ctx));
        if (!kind) continue; // regular files etc.: not this harness's business
        used.add(kind);
        firstId = undefined;
        curFd = fd;
        const entry = kind.dump(ctx);
        if (entry) files.push(entry);
        const id = entry ? entry.id : firstId;
        const type = entry?.type ?? files.find((f) => f.id === id)?.type;
        fdi.push({ id, flags: (info.flags & 0o2000000) ? 1 : 0, type, fd });
      } finally {
        p.close(local);
      }
    }
    curFd = -1;
    for (const k of used) k.finishDump?.({ shared, opts, addEntry, fileId, log: () => {} });
  } finally {
    p.close(pidfd);
  }
  // files.img entries that modules added (FIFO's REG, external unix peers) join the rest
  files.push(...(images.FILES ?? []));
  delete images.FILES;
  return jsonSafe({ files, fdinfo: fdi, images, shmem });
}

export interface Restored { fds: Map<number, number>; close(): void }

/** Restore every fd of `d` (one process) into this process; returns target fd -> local fd. */
export async function restoreFds(d: Dumped, pid = 1, opts: Record<string, unknown> = {}, shmemLoader?: (shmid: number) => { off: number; data: Buffer }[], only?: (e: any) => boolean): Promise<Restored> {
  const shared = new Map<string, unknown>();
  const deferred: (() => void)[] = [];
  const byId = new Map<number, any>(d.files.map((f) => [Number(f.id), f]));
  const cache = new Map<number, number>();
  const out = new Map<number, number>();
  const kindFor = (type: string) => fdKinds.find((k) => k.types.includes(type));
  const images: Record<string, any[]> = { ...d.images, FILES: d.files };
  // shmem pages go through a pages file, as the restore engine gives them (RestoreFdCtx.shmemSource)
  const tmpFiles: string[] = [];
  const shmemFile = (shmid: number, runs: { off: number; data: Buffer }[]) => {
    if (!runs.length) return null;
    const file = join(tmpdir(), `tscr-harness-shmem-${process.pid}-${shmid}-${tmpFiles.length}.img`);
    writeFileSync(file, Buffer.concat(runs.map((r) => r.data)));
    tmpFiles.push(file);
    let at = 0;
    return { file, runs: runs.map((r) => { const x = { off: r.off, fileOff: at, len: r.data.length }; at += r.data.length; return x; }) };
  };
  const restoreOne = async (fdNo: number): Promise<number> => {
    const e = d.fdinfo.find((x) => x.fd === fdNo);
    if (!e) throw new TscrError('E_INCONSISTENT', `no fd ${fdNo} in fdinfo`);
    const fid = Number(e.id);
    const have = cache.get(fid);
    if (have !== undefined) return have;
    const file = byId.get(fid);
    const kind = kindFor(file.type);
    if (!kind) throw new TscrError('E_UNSUPPORTED', `no module for ${file.type}`);
    const ctx: RestoreFdCtx = {
      pid, fd: fdNo, image: (m) => images[m] ?? [], shared, opts, log: () => {},
      localFd: async (n) => fdsShim().fcntl(await restoreOne(n), 1030, 3),
      shmemSource: (shmid) => shmemFile(shmid, shmemLoader ? shmemLoader(shmid) : (d.shmem[shmid] ?? []).map((r) => ({ off: r.off, data: Buffer.from(r.data, 'base64') }))),
      defer: (fn) => { deferred.push(fn); },
    };
    const local = await kind.restore(ctx, file, e);
    cache.set(fid, local);
    return local;
  };
  const closeAll = () => {
    for (const fn of deferred.splice(0)) { try { fn(); } catch { /* closing */ } }
    for (const l of new Set(cache.values())) ptraceShimRaw().close(l);
    cache.clear();
    for (const f of tmpFiles.splice(0)) rmSync(f, { force: true });
  };
  try {
    for (const e of d.fdinfo) if (!only || only(e)) out.set(e.fd, await restoreOne(e.fd));
  } catch (err) { closeAll(); throw err; }
  return { fds: out, close: closeAll };
}

/** Start `bin args` with local fds placed at their target numbers. Returns the pid (our child, not libuv's). */
export function spawnWithFds(bin: string, args: string[], fds: Map<number, number>): number {
  const argv = [bin, ...args];
  const block = Buffer.concat(argv.map((a) => Buffer.from(a + '\0')));
  const map = new Int32Array(fds.size * 2);
  let i = 0;
  for (const [target, local] of fds) { map[i++] = local; map[i++] = target; }
  return check(fdsShim().spawn_fds(bin, block, argv.length, map, fds.size), `starting ${bin}`);
}

/** Reap a child made by spawnWithFds (non-blocking). */
export function reap(pid: number): void {
  try { ptraceShimRaw().waitpid(pid, 1 /* WNOHANG */, new Int32Array(1)); } catch { /* gone */ }
}

/** Read a CRIU image directory's crit JSON (crit/NAME.json) as the harness shape, plus its shmem pages. */
export function loadCritDir(dir: string, pid: number): { d: Dumped; shmem: (shmid: number) => { off: number; data: Buffer }[] } {
  const crit = (n: string) => JSON.parse(readFileSync(join(dir, 'crit', n + '.json'), 'utf8')).entries;
  const ids = crit(`ids-${pid}`)[0];
  const files = crit('files');
  const fdinfo = crit(`fdinfo-${ids.files_id}`);
  const images: Record<string, any[]> = {};
  for (const [magic, name] of [['PIPES_DATA', 'pipes-data'], ['SK_QUEUES', 'sk-queues'], ['MEMFD_INODE', 'memfd'], ['FIFO_DATA', 'fifo-data']]) {
    if (existsSync(join(dir, 'crit', name + '.json'))) images[magic] = crit(name);
  }
  const shmem = (shmid: number) => {
    const pm = crit(`pagemap-shmem-${shmid}`);
    const pages = readFileSync(join(dir, 'images', `pages-${pm[0].pages_id}.img`));
    const runs: { off: number; data: Buffer }[] = [];
    let at = 0;
    for (const e of pm.slice(1)) {
      const n = Number(e.nr_pages) * 4096;
      runs.push({ off: Number(BigInt(e.vaddr)), data: pages.subarray(at, at + n) });
      at += n;
    }
    return runs;
  };
  return { d: { files, fdinfo, images, shmem: {} }, shmem };
}

export function listCritDirs(root: string): string[] { return readdirSync(root); }

/**
 * The common end of a standalone fd-kind test: the dumped process must still pass
 * its own check (every byte there exactly once), then the dumped fds are re-created
 * in tscr and handed to a fresh `<fixture> OUT --check`, which must say PASS.
 */
export async function restoreIntoChecker(d: Dumped, fx: { pid: number; out: string; check(): Promise<string> }, fixture: string): Promise<void> {
  assert.is(await fx.check(), 'PASS');
  const r = await restoreFds(d, fx.pid);
  const out = fx.out; // same paths as the dumped process (the checker derives its files from it)
  rmSync(out, { force: true });
  let child = 0;
  try {
    try {
      child = spawnWithFds(join(FIXTURES_BIN, fixture), [out, '--check'], r.fds);
    } finally { r.close(); }
    assert.is((await waitFile(out)).trim(), 'PASS');
  } finally {
    if (child) { try { process.kill(child, 'SIGKILL'); } catch {} await sleep(10); reap(child); }
  }
}
