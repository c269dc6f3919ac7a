// tscr validate: a strict consistency check of a checkpoint before anything
// trusts it. Each check adds findings; the heavy per-byte work (framing and
// protobuf wire checks, range checks over pagemaps and VMAs) runs in the Wasm
// core (val_frames, val_ranges); this module cross-references the decoded
// objects: pstree <-> core/mm/ids/fdinfo, fds <-> files.img, pagemap <-> pages
// files, VMAs <-> files, sockets/pipes/ghosts <-> the objects they name.
import { criucompProblems } from '../criucomp.ts';
import { core, passBytes, release, takeBytes } from '../../core-as/host.ts';
import { Checkpoint, FRAME_STATUS, LIMITS, PAGE, PE_PARENT, PE_PRESENT, describeMagic, num, big, type Proc } from './checkpoint.ts';
import { hex32 } from './magic.ts';
import type { ArchiveSource } from './source.ts';
import type { TscrError } from '../errors.ts';
import { digestOf, hashPagesFile } from './pages.ts';
import { checkPolicy, type HostDescription } from './policy.ts';
import { checkNamespaces } from './validate-ns.ts';

export type Severity = 'error' | 'warning' | 'info';
export interface Finding {
  severity: Severity;
  code: string;     // stable machine code, e.g. 'pstree.no-core'
  file: string;     // image file name inside the checkpoint
  offset: number;   // byte offset in that file (of the entry concerned)
  message: string;
  pid?: number;
}

export interface ValidateResult {
  dir: string;
  findings: Finding[];
  errors: number;
  warnings: number;
  pageBytes: number;  // bytes of page data examined
  pages: Record<string, string>; // pages file -> XXH64 digest of its per-page hashes
  clean: boolean;
}

const MAX_PER_KIND = 100;

class Ctx {
  findings: Finding[] = [];
  digests: Record<string, string> = {};
  pageData = true;
  onBytes?: (done: number, total: number) => void;
  constructor(readonly cp: Checkpoint) {}
  private perKind = new Map<string, number>();
  counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  add(severity: Severity, code: string, file: string, offset: number, message: string, pid?: number) {
    // a damaged image can produce the same finding a million times: keep the
    // first 100 of each kind per file, then say how many more there were
    this.counts[severity]++;
    const key = `${code}\0${file}`;
    const n = (this.perKind.get(key) ?? 0) + 1;
    this.perKind.set(key, n);
    if (n > MAX_PER_KIND) return;
    this.findings.push({ severity, code, file, offset, message, ...(pid !== undefined ? { pid } : {}) });
  }
  summarizeCapped() {
    for (const [key, n] of this.perKind) {
      if (n <= MAX_PER_KIND) continue;
      const [code, file] = key.split('\0');
      const kept = this.findings.filter((f) => f.code === code && f.file === file);
      const last = kept.reduce((a, f) => (f.offset >= a.offset ? f : a), kept[0]);
      this.findings.push({ ...last, message: `... and ${n - MAX_PER_KIND} more findings like the ones above (${code}) in this file` });
    }
  }
  at(file: string, i: number): number { return this.cp.entryOffset(file, i); }
}

const VR_MESSAGES: Record<number, string> = {
  1: 'VMA #%i is empty or reversed (start >= end)',
  2: 'VMA #%i is not page aligned',
  3: 'VMA #%i overlaps or precedes VMA #%j (VMAs must be sorted and disjoint)',
  4: 'pagemap entry #%i has nr_pages 0',
  5: 'pagemap entry #%i starts at an address that is not page aligned',
  6: 'pagemap entry #%i overlaps or precedes entry #%j (entries must be sorted and disjoint)',
  7: 'pagemap entry #%i is not covered by the VMAs (it reaches into unmapped memory)',
  8: 'pagemap entry #%i wraps around the address space',
};

/** Frame-level checks of every image file, and unknown kinds. */
function checkFrames(v: Ctx) {
  const cp = v.cp;
  for (const name of cp.names) {
    if (/^pages-\d+\.img$/.test(name)) continue;
    if (!cp.isImage(name)) {
      if (!/\.(json|log)$/.test(name)) v.add('info', 'file.not-image', name, 0, 'not a CRIU image file; ignored');
      continue;
    }
    let f;
    try { f = cp.frames(name); } catch (e) {
      v.add('error', 'file.unreadable', name, 0, `cannot read: ${(e as Error).message}`);
      continue;
    }
    if (!f.kind) {
      v.add('warning', 'file.unknown-kind', name, f.header ? 4 : 0, `unknown image kind (magic ${hex32(f.magic)}); tscr does not know what it holds`);
      continue;
    }
    if (f.status !== 0) {
      v.add('error', f.status === 4 ? 'frame.bad-protobuf' : f.status === 6 ? 'frame.too-large' : 'frame.truncated', name, f.bad,
        `${FRAME_STATUS[f.status] ?? 'bad framing'} (entry #${f.rows.length}, ${f.kind})`);
      continue;
    }
    const expected = expectedKind(name);
    if (expected && expected !== f.kind) v.add('error', 'file.wrong-kind', name, 4, `file name says ${expected} but the image is ${f.kind}`);
    // mm and pagemap images read by the core's fast path need no second, full decode
    if ((f.kind === 'MM' || f.kind === 'PAGEMAP') && /^(mm|pagemap)-\d+\.img$/.test(name) && cp.fast(name)) continue;
    try { cp.image(name); } catch (e) {
      v.add('error', 'decode.failed', name, 0, `cannot decode: ${(e as Error).message}`);
    }
  }
}

function expectedKind(name: string): string | null {
  const table: [RegExp, string][] = [
    [/^pstree\.img$/, 'PSTREE'], [/^inventory\.img$/, 'INVENTORY'], [/^core-\d+\.img$/, 'CORE'],
    [/^mm-\d+\.img$/, 'MM'], [/^ids-\d+\.img$/, 'IDS'], [/^fdinfo-\d+\.img$/, 'FDINFO'],
    [/^pagemap-\d+\.img$/, 'PAGEMAP'], [/^pagemap-shmem-\d+\.img$/, 'PAGEMAP'], [/^files\.img$/, 'FILES'],
    [/^fs-\d+\.img$/, 'FS'], [/^ghost-file-\d+\.img$/, 'GHOST_FILE'], [/^tcp-stream-[0-9a-f]+\.img$/, 'TCP_STREAM'],
  ];
  for (const [re, k] of table) if (re.test(name)) return k;
  return null;
}

function checkTree(v: Ctx, procs: Proc[]) {
  const cp = v.cp;
  if (!cp.has('inventory.img')) v.add('error', 'missing.inventory', 'inventory.img', 0, 'inventory.img is missing: this is not a complete checkpoint');
  else {
    const inv = cp.entries('inventory.img')[0];
    if (inv && num(inv.img_version) !== 2 && !(num(inv.img_version) === 3 && num(inv.compress))) v.add('warning', 'inventory.version', 'inventory.img', v.at('inventory.img', 0), `image version ${num(inv.img_version)} (tscr reads version 2, and 3 with criu-dev compressed pages)`);
  }
  if (!cp.has('pstree.img')) { v.add('error', 'missing.pstree', 'pstree.img', 0, 'pstree.img is missing: no process tree'); return; }
  if (procs.length === 0) { v.add('error', 'pstree.empty', 'pstree.img', 0, 'the process tree is empty'); return; }
  if (procs.length > LIMITS.processes) v.add('error', 'limit.processes', 'pstree.img', 0, `${procs.length} processes is more than the limit ${LIMITS.processes}`);
  const pids = new Map<number, Proc>();
  const tids = new Map<number, number>();
  let roots = 0;
  for (const p of procs) {
    const off = v.at('pstree.img', p.index);
    if (p.pid <= 0 || p.pid > 4194304) v.add('error', 'pstree.bad-pid', 'pstree.img', off, `pid ${p.pid} is outside 1..4194304`, p.pid);
    if (pids.has(p.pid)) v.add('error', 'pstree.duplicate-pid', 'pstree.img', off, `pid ${p.pid} appears twice in the process tree`, p.pid);
    pids.set(p.pid, p);
    if (p.threads.length === 0) v.add('error', 'pstree.no-threads', 'pstree.img', off, `pid ${p.pid} has no threads`, p.pid);
    else if (!p.threads.includes(p.pid)) v.add('error', 'pstree.leader-missing', 'pstree.img', off, `pid ${p.pid} is not among its own threads (${p.threads.join(', ')})`, p.pid);
    if (p.threads.length > LIMITS.threads) v.add('error', 'limit.threads', 'pstree.img', off, `pid ${p.pid} has ${p.threads.length} threads (limit ${LIMITS.threads})`, p.pid);
    for (const t of p.threads) {
      if (tids.has(t)) v.add('error', 'pstree.duplicate-tid', 'pstree.img', off, `thread ${t} belongs to both pid ${tids.get(t)} and pid ${p.pid}`, p.pid);
      tids.set(t, p.pid);
    }
  }
  for (const p of procs) {
    const off = v.at('pstree.img', p.index);
    if (p.ppid === 0) roots++;
    else if (!pids.has(p.ppid)) v.add('error', 'pstree.orphan', 'pstree.img', off, `pid ${p.pid} names parent ${p.ppid}, which is not in the tree`, p.pid);
  }
  // ancestry cycles, in linear time: walk up from each process, marking the path
  const state = new Map<number, number>(); // 1 = on the current path, 2 = known to reach a root
  for (const p of procs) {
    const path: Proc[] = [];
    let q: Proc | undefined = p;
    while (q && !state.has(q.pid)) { state.set(q.pid, 1); path.push(q); q = q.ppid ? pids.get(q.ppid) : undefined; }
    if (q && state.get(q.pid) === 1) v.add('error', 'pstree.cycle', 'pstree.img', v.at('pstree.img', q.index), `pid ${q.pid} is its own ancestor (a loop in the parent links)`, q.pid);
    for (const x of path) state.set(x.pid, 2);
  }
  if (roots !== 1) v.add('error', 'pstree.roots', 'pstree.img', 0, `the tree has ${roots} roots (ppid 0); it must have exactly one`);
  // per-process images
  for (const p of procs) {
    const off = v.at('pstree.img', p.index);
    for (const t of p.threads) {
      if (!cp.has(`core-${t}.img`)) v.add('error', 'missing.core', 'pstree.img', off, `core-${t}.img is missing for thread ${t} of pid ${p.pid}`, p.pid);
    }
    const coreE = cp.entries(`core-${p.pid}.img`)[0];
    const zombie = coreE?.tc?.task_state === 'Zombie' || coreE?.tc?.task_state === 'Dead';
    if (coreE) {
      if (coreE.mtype && coreE.mtype !== 'X86_64') v.add('warning', 'core.arch', `core-${p.pid}.img`, v.at(`core-${p.pid}.img`, 0), `architecture ${coreE.mtype}; tscr restores X86_64 only`, p.pid);
      if (!coreE.tc) v.add('error', 'core.no-tc', `core-${p.pid}.img`, v.at(`core-${p.pid}.img`, 0), `the main thread's core has no task state (tc)`, p.pid);
    }
    if (zombie) continue;
    for (const f of [`mm-${p.pid}.img`, `ids-${p.pid}.img`, `pagemap-${p.pid}.img`, `fs-${p.pid}.img`]) {
      if (!cp.has(f)) v.add('error', 'missing.' + f.split('-')[0], 'pstree.img', off, `${f} is missing for pid ${p.pid}`, p.pid);
    }
  }
}

function checkFds(v: Ctx, procs: Proc[]) {
  const cp = v.cp;
  const files = cp.fileById();
  const filesOk = cp.has('files.img');
  // duplicate ids in files.img
  const seen = new Set<number>();
  cp.entries('files.img').forEach((e, i) => {
    const id = num(e.id);
    if (seen.has(id)) v.add('error', 'files.duplicate-id', 'files.img', v.at('files.img', i), `file id ${id} is defined twice`);
    seen.add(id);
    const sub = Object.keys(e).find((k) => k !== 'type' && k !== 'id' && e[k] && typeof e[k] === 'object');
    if (!sub) v.add('error', 'files.empty', 'files.img', v.at('files.img', i), `file id ${id} (${e.type}) has no description`);
    else if (e[sub].id !== undefined && num(e[sub].id) !== id) v.add('error', 'files.id-mismatch', 'files.img', v.at('files.img', i), `file entry id ${id} holds a ${sub} object with id ${num(e[sub].id)}`);
  });
  const doneFiles = new Set<number>();
  for (const p of procs) {
    if (p.filesId === null) continue;
    const fdimg = `fdinfo-${p.filesId}.img`;
    if (!cp.has(fdimg)) { v.add('error', 'missing.fdinfo', `ids-${p.pid}.img`, v.at(`ids-${p.pid}.img`, 0), `${fdimg} (files_id ${p.filesId}) is missing`, p.pid); continue; }
    if (doneFiles.has(p.filesId)) continue; // shared fd table: checked once
    doneFiles.add(p.filesId);
    const fds = new Set<number>();
    if (p.fds.length > LIMITS.fds) v.add('error', 'limit.fds', fdimg, 0, `${p.fds.length} fds (limit ${LIMITS.fds})`, p.pid);
    for (const fd of p.fds) {
      const off = v.at(fdimg, fd.index);
      if (fd.fd < 0 || fd.fd >= LIMITS.fds) v.add('error', 'fdinfo.bad-fd', fdimg, off, `fd number ${fd.fd} is out of range`, p.pid);
      if (fds.has(fd.fd)) v.add('error', 'fdinfo.duplicate-fd', fdimg, off, `fd ${fd.fd} appears twice`, p.pid);
      fds.add(fd.fd);
      const f = files.get(fd.id);
      if (!f) {
        if (filesOk) v.add('error', 'fdinfo.dangling-id', fdimg, off, `fd ${fd.fd} names file id ${fd.id}, which files.img does not define`, p.pid);
        else v.add('error', 'missing.files', fdimg, off, `fd ${fd.fd} names file id ${fd.id}, but files.img is missing`, p.pid);
      } else if (String(f.type) !== fd.type) {
        v.add('error', 'fdinfo.type-mismatch', fdimg, off, `fd ${fd.fd} says ${fd.type} but file id ${fd.id} is ${f.type}`, p.pid);
      }
    }
  }
  // objects that name other objects
  const unixByIno = new Map<number, any>();
  const inetByIno = new Map<number, any>();
  const pipeIds = new Set<number>();
  for (const e of cp.entries('files.img')) {
    if (e.usk) unixByIno.set(num(e.usk.ino), e);
    if (e.isk) inetByIno.set(num(e.isk.ino), e);
    if (e.pipe) pipeIds.add(num(e.pipe.pipe_id));
  }
  cp.entries('files.img').forEach((e, i) => {
    const off = v.at('files.img', i);
    if (e.usk && num(e.usk.peer) && !unixByIno.has(num(e.usk.peer)) && !e.usk.name) {
      v.add('error', 'unixsk.dangling-peer', 'files.img', off, `unix socket id ${num(e.id)} (ino ${num(e.usk.ino)}) names peer ino ${num(e.usk.peer)}, which is not in the checkpoint`);
    }
    if (e.isk && e.isk.state === 'ESTABLISHED' && e.isk.proto === 'TCP') {
      const f = `tcp-stream-${num(e.isk.ino).toString(16)}.img`;
      if (!cp.has(f)) v.add('error', 'tcp.no-stream', 'files.img', off, `established TCP socket id ${num(e.id)} has no ${f} (queues and sequence numbers)`);
    }
  });
  // fs: cwd and root name files.img entries
  for (const p of procs) {
    const ff = `fs-${p.pid}.img`;
    const e = cp.entries(ff)[0];
    if (!e) continue;
    for (const k of ['cwd_id', 'root_id']) {
      if (e[k] !== undefined && filesOk && !files.has(num(e[k]))) v.add('error', 'fs.dangling', ff, v.at(ff, 0), `${k} ${num(e[k])} is not defined in files.img`, p.pid);
    }
  }
  // memfd files name memfd inodes; epoll targets name fds of the same table
  const memfdInodes = new Set<number>(cp.entries('memfd.img').map((e: any) => num(e.inode_id)));
  const fdsByFile = new Map<number, Set<number>>(); // file id -> the fd numbers of a table holding it
  for (const p of procs) {
    const table = new Set(p.fds.map((f) => f.fd));
    for (const fd of p.fds) if (!fdsByFile.has(fd.id)) fdsByFile.set(fd.id, table);
  }
  cp.entries('files.img').forEach((e, i) => {
    const off = v.at('files.img', i);
    if (e.memfd && e.memfd.inode_id !== undefined && !memfdInodes.has(num(e.memfd.inode_id))) {
      v.add('error', 'memfd.dangling-inode', 'files.img', off, `memfd file id ${num(e.id)} names inode ${num(e.memfd.inode_id)}, which memfd.img does not hold`);
    }
    if (e.epfd && Array.isArray(e.epfd.tfd)) {
      const fds = fdsByFile.get(num(e.id));
      if (!fds) return;
      for (const t of e.epfd.tfd) {
        if (!fds.has(num(t.tfd))) v.add('error', 'epoll.dangling-target', 'files.img', off, `epoll id ${num(e.id)} watches fd ${num(t.tfd)}, which is not open in the process that holds it`);
      }
    }
  });
  cp.entries('sk-queues.img').forEach((e, i) => {
    if (!files.has(num(e.id_for))) v.add('error', 'skqueue.dangling', 'sk-queues.img', v.at('sk-queues.img', i), `queued packet for socket id ${num(e.id_for)}, which files.img does not define`);
  });
  for (const name of ['pipes-data.img', 'fifo-data.img']) {
    cp.entries(name).forEach((e, i) => {
      if (!pipeIds.has(num(e.pipe_id)) && name === 'pipes-data.img') v.add('error', 'pipedata.dangling', name, v.at(name, i), `data for pipe ${num(e.pipe_id)}, which no pipe in files.img names`);
    });
  }
  for (const n of cp.names) {
    const m = /^tcp-stream-([0-9a-f]+)\.img$/.exec(n);
    if (m && !inetByIno.has(parseInt(m[1], 16))) v.add('warning', 'tcp.orphan-stream', n, 0, `TCP stream for socket ino ${parseInt(m[1], 16)}, which no socket in files.img has`);
  }
  cp.entries('remap-fpath.img').forEach((e, i) => {
    const off = v.at('remap-fpath.img', i);
    if (!files.has(num(e.orig_id))) v.add('error', 'remap.dangling', 'remap-fpath.img', off, `remap for file id ${num(e.orig_id)}, which files.img does not define`);
    if ((e.remap_type ?? 'LINKED') === 'GHOST' && !cp.has(`ghost-file-${num(e.remap_id)}.img`)) {
      v.add('error', 'remap.no-ghost', 'remap-fpath.img', off, `ghost file ${num(e.remap_id)} for file id ${num(e.orig_id)} is missing (ghost-file-${num(e.remap_id)}.img)`);
    }
  });
}

function checkMemory(v: Ctx, procs: Proc[]): number {
  const cp = v.cp;
  const ex = core();
  const files = cp.fileById();
  const pagesUsers = new Map<number, number>();
  let pageBytes = 0;
  const memfdShm = new Set<number>();
  for (const e of cp.entries('memfd.img')) memfdShm.add(num(e.shmid));
  for (const p of procs) {
    const mmf = `mm-${p.pid}.img`, pmf = `pagemap-${p.pid}.img`;
    if (!cp.has(mmf) || !cp.has(pmf)) continue;
    const mmOff = v.at(mmf, 0);
    const exe = cp.exeFileId(p.pid);
    if (exe !== undefined && files.size && !files.has(exe)) {
      v.add('error', 'mm.dangling-exe', mmf, mmOff, `exe_file_id ${exe} is not defined in files.img`, p.pid);
    }
    if (p.vmas.length > LIMITS.vmas) v.add('error', 'limit.vmas', mmf, mmOff, `${p.vmas.length} VMAs (limit ${LIMITS.vmas})`, p.pid);
    for (const vm of p.vmas) {
      const s = vm.status;
      if ((s.includes('VMA_FILE_PRIVATE') || s.includes('VMA_FILE_SHARED')) && !s.includes('VMA_AREA_MEMFD')) {
        const f = files.get(vm.shmid);
        if (!f) v.add('error', 'vma.dangling-file', mmf, mmOff, `VMA #${vm.index} (${hex(vm.start)}-${hex(vm.end)}) maps file id ${vm.shmid}, which files.img does not define`, p.pid);
      }
      if (s.includes('VMA_ANON_SHARED') && !s.includes('VMA_AREA_SYSVIPC')) {
        if (!cp.has(`pagemap-shmem-${vm.shmid}.img`) && !memfdShm.has(vm.shmid)) {
          // shared anonymous memory with no pages written is legal (never touched): note it
          v.add('info', 'vma.shmem-empty', mmf, mmOff, `VMA #${vm.index} is shared anonymous memory ${vm.shmid} with no pagemap-shmem-${vm.shmid}.img (restored as zeros)`, p.pid);
        }
      }
    }
    // ranges in the Wasm core
    // u64 tables written as u32 pairs (addresses are Numbers: see checkpoint.ts)
    const vt = new Uint32Array(4 * p.vmas.length);
    for (let i = 0; i < p.vmas.length; i++) { put64(vt, 2 * i, p.vmas[i].start); put64(vt, 2 * i + 1, p.vmas[i].end); }
    const pt = new Uint32Array(6 * p.pm.length);
    for (let i = 0; i < p.pm.length; i++) {
      const x = p.pm[i];
      put64(pt, 3 * i, x.vaddr); put64(pt, 3 * i + 1, Math.max(0, Math.trunc(x.nr))); pt[6 * i + 4] = x.flags >>> 0;
    }
    const vb = new Uint8Array(vt.buffer), pb = new Uint8Array(pt.buffer);
    const a = passBytes(vb), b = passBytes(pb);
    let words: BigUint64Array;
    try {
      const r = takeBytes(ex.val_ranges(a, b));
      words = new BigUint64Array(r.buffer, r.byteOffset, r.byteLength >> 3);
    } finally { release(a); release(b); }
    const present = Number(words[0]);
    const nfind = Number(words[3]);
    for (let k = 0; k < nfind; k++) {
      const code = Number(words[4 + 3 * k]), i = Number(words[5 + 3 * k]), j = Number(words[6 + 3 * k]);
      const onVma = code <= 3;
      const file = onVma ? mmf : pmf;
      const off = onVma ? mmOff : v.at(pmf, p.pm[i]?.index ?? 0);
      let msg = (VR_MESSAGES[code] ?? `range problem ${code} at #%i`).replace('%i', String(onVma ? i : p.pm[i]?.index)).replace('%j', String(onVma ? j : p.pm[j]?.index));
      if (!onVma && p.pm[i]) msg += ` (${hex(p.pm[i].vaddr)}, ${p.pm[i].nr} pages)`;
      v.add('error', ['', 'vma.empty', 'vma.unaligned', 'vma.overlap', 'pagemap.zero', 'pagemap.unaligned', 'pagemap.overlap', 'pagemap.outside-vma', 'pagemap.wrap'][code] ?? 'range', file, off, msg, p.pid);
    }
    // pagemap <-> pages file
    if (p.pagesId === null) { v.add('error', 'pagemap.no-head', pmf, 0, 'pagemap has no head entry (pages_id)', p.pid); continue; }
    const users = pagesUsers.get(p.pagesId);
    if (users !== undefined) v.add('error', 'pagemap.shared-pages', pmf, v.at(pmf, 0), `pages-${p.pagesId}.img is also claimed by pid ${users}`, p.pid);
    pagesUsers.set(p.pagesId, p.pid);
    pageBytes += checkPagesFile(v, pmf, p.pagesId, present, p.pid);
  }
  // shmem pagemaps
  for (const n of cp.names) {
    const m = /^pagemap-shmem-(\d+)\.img$/.exec(n);
    if (!m) continue;
    const ents = cp.entries(n);
    if (!ents.length) continue;
    const pagesId = num(ents[0].pages_id);
    let present = 0;
    ents.slice(1).forEach((e: any, i: number) => {
      const fl = typeof e.flags === 'string' ? e.flags : '';
      const nr = num(e.nr_pages) || num(e.compat_nr_pages);
      if (nr <= 0) v.add('error', 'pagemap.zero', n, v.at(n, i + 1), `pagemap entry #${i + 1} has nr_pages 0`);
      if (fl.includes('PE_PRESENT') && !fl.includes('PE_PARENT') && !e.in_parent) present += nr;
      if (big(e.vaddr) % 4096n !== 0n) v.add('error', 'pagemap.unaligned', n, v.at(n, i + 1), `pagemap entry #${i + 1} offset is not page aligned`);
    });
    const users = pagesUsers.get(pagesId);
    if (users !== undefined) v.add('error', 'pagemap.shared-pages', n, v.at(n, 0), `pages-${pagesId}.img is also claimed by pid ${users}`);
    pagesUsers.set(pagesId, -1);
    pageBytes += checkPagesFile(v, n, pagesId, present);
  }
  for (const n of cp.names) {
    const m = /^pages-(\d+)\.img$/.exec(n);
    if (m && !pagesUsers.has(Number(m[1]))) v.add('warning', 'pages.unreferenced', n, 0, `no pagemap refers to ${n}`);
  }
  return pageBytes;
}

function checkPagesFile(v: Ctx, pmf: string, pagesId: number, present: number, pid?: number): number {
  const cp = v.cp;
  const pf = `pages-${pagesId}.img`;
  if (!cp.has(pf)) {
    if (present > 0) v.add('error', 'missing.pages', pmf, v.at(pmf, 0), `${pf} is missing; the pagemap needs ${present} pages from it`, pid);
    return 0;
  }
  const size = cp.size(pf);
  const need = present * PAGE;
  if (size < need) v.add('error', 'pages.short', pf, size, `${pf} holds ${size} bytes (${Math.floor(size / PAGE)} pages) but ${pmf} needs ${present} pages (${need} bytes): truncated`, pid);
  else if (size > need) v.add('error', 'pages.long', pf, need, `${pf} holds ${size} bytes but ${pmf} accounts for only ${need}: ${size - need} bytes are not described by any pagemap entry`, pid);
  else if (size % PAGE) v.add('error', 'pages.unaligned', pf, size, `${pf} is not a whole number of pages`, pid);
  // read every page once through the core: proves the data is readable and
  // gives a digest to compare copies of the checkpoint by
  if (!v.pageData) return size;
  try {
    v.digests[pf] = digestOf(hashPagesFile(cp, pf, v.onBytes));
  } catch (e) {
    if (v.findings.some((f) => f.code === 'pages.compressed' && f.file === pf)) return size; // already named, with its offset
    v.add('error', 'pages.unreadable', pf, 0, `cannot read: ${(e as Error).message}`, pid);
  }
  return size;
}

function hex(x: number): string { return '0x' + x.toString(16); }
/** Store a non-negative integer Number as u64 word k of a u32-pair table. */
function put64(t: Uint32Array, k: number, v: number) {
  const hi = Math.floor(v / 4294967296);
  t[2 * k] = v - hi * 4294967296; t[2 * k + 1] = hi;
}

/** Run every check. Findings are sorted by file then offset, errors first within an offset. */
export interface ValidateOptions { onBytes?: (done: number, total: number) => void; host?: HostDescription; pageData?: boolean }

export function validateCheckpoint(cp: Checkpoint, opts: ValidateOptions | ((done: number, total: number) => void) = {}, host?: HostDescription): ValidateResult {
  const o: ValidateOptions = typeof opts === 'function' ? { onBytes: opts, host } : { host, ...opts };
  const onBytes = o.onBytes;
  host = o.host;
  const v = new Ctx(cp);
  v.pageData = o.pageData !== false;
  v.onBytes = onBytes;
  if (cp.src.kind === 'archive') {
    // the archive's own integrity first: every block hash, the whole-file hash, parents
    try { (cp.src as ArchiveSource).reader.verify(); } catch (e) {
      const w = (e as TscrError).where ?? {};
      v.add('error', 'archive.corrupt', String(w.file ?? cp.dir), w.offset ?? 0, (e as Error).message);
    }
  }
  checkFrames(v);
  if (cp.src.kind === 'dir' && cp.maybeCompressed()) {
    // criu-dev compressed pages: every block size and every LZ4 block (lib/criucomp.ts)
    for (const f of criucompProblems(cp.dir)) v.add('error', 'pages.compressed', f.file, f.offset, f.message);
  }
  const procs = cp.procs();
  checkTree(v, procs);
  checkFds(v, procs);
  checkNamespaces(v.cp, procs, (...a) => v.add(...a), (file, i) => v.at(file, i));
  const pageBytes = checkMemory(v, procs);
  if (host) for (const f of checkPolicy(cp, host, (file, i) => v.at(file, i))) v.add(f.severity, f.code, f.file, f.offset, f.message, f.pid);
  v.summarizeCapped();
  const order: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  v.findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.offset - b.offset || order[a.severity] - order[b.severity]));
  const errors = v.counts.error;
  const warnings = v.counts.warning;
  return { dir: cp.dir, findings: v.findings, errors, warnings, pageBytes, pages: v.digests, clean: errors === 0 && warnings === 0 };
}

export function formatFinding(f: Finding): string {
  return `${f.severity.toUpperCase()} ${f.file}:${f.offset}: ${f.message}`;
}

export { describeMagic, PE_PARENT, PE_PRESENT };
