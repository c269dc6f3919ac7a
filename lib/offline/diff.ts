// tscr diff A B: what changed between two checkpoints of the same workload.
// Process tree, threads, fds, sockets, VMAs, and per VMA the pages changed,
// added and removed. Pages are compared by XXH64 hashes computed in the Wasm
// core (xxh_pages) and matched there too (diff_match); no byte compares.
import { core, allocBytes, release } from '../../core-as/host.ts';
import { Checkpoint, PAGE, num, type Proc, type Vma } from './checkpoint.ts';
import { hashPagesFile } from './pages.ts';
import { hex, perms } from './mem.ts';

export interface VmaDiff {
  start: string; end: string; name: string; kind: string;
  status: 'same' | 'added' | 'removed' | 'resized' | 'changed';
  oldEnd?: string; oldPerms?: string; perms: string;
  pagesChanged: number; pagesAdded: number; pagesRemoved: number;
}
export interface ProcDiff {
  pid: number; comm: string;
  threadsAdded: number[]; threadsRemoved: number[];
  fdsAdded: { fd: number; what: string }[];
  fdsRemoved: { fd: number; what: string }[];
  fdsChanged: { fd: number; from: string; to: string }[];
  vmas: VmaDiff[];           // only VMAs with a change
  pages: { changed: number; added: number; removed: number; same: number };
  changedPages?: { addr: string; change: 'changed' | 'added' | 'removed' }[]; // first 10000
}
export interface DiffResult {
  a: string; b: string;
  processesAdded: { pid: number; comm: string }[];
  processesRemoved: { pid: number; comm: string }[];
  processes: ProcDiff[];
  socketsAdded: string[];
  socketsRemoved: string[];
  socketsChanged: { from: string; to: string }[];
  pageBytes: number; // page data hashed (both sides)
  identical: boolean;
}

function fileDesc(f: any): string {
  if (!f) return 'unknown';
  if (f.reg) return `${f.type} ${f.reg.name ?? ''}${f.reg.pos ? ` @${num(f.reg.pos)}` : ''}`;
  if (f.pipe) return `PIPE pipe:[${num(f.pipe.pipe_id)}]`;
  if (f.usk) return `UNIXSK ${f.usk.type ?? ''} ${f.usk.state ?? ''} ino ${num(f.usk.ino)}${f.usk.name ? ' ' + f.usk.name : ''}`;
  if (f.isk) return `INETSK ${sockDesc(f)}`;
  const sub = Object.keys(f).find((k) => k !== 'type' && k !== 'id' && typeof f[k] === 'object');
  return `${f.type}${sub && f[sub]?.name ? ' ' + f[sub].name : ''}`;
}

function sockDesc(f: any): string {
  const s = f.isk;
  const src = (s.src_addr ?? []).join(','), dst = (s.dst_addr ?? []).join(',');
  return `${s.proto ?? ''} ${src}:${num(s.src_port)} -> ${dst}:${num(s.dst_port)} ${s.state ?? ''}`;
}

function socketKey(f: any): [string, string] | null {
  if (f.isk) {
    const s = f.isk;
    return [`${s.proto} ${(s.src_addr ?? []).join(',')}:${num(s.src_port)} -> ${(s.dst_addr ?? []).join(',')}:${num(s.dst_port)}`, sockDesc(f)];
  }
  if (f.usk) return [`unix ino ${num(f.usk.ino)}`, fileDesc(f)];
  return null;
}

/** Sorted (addr, hash) rows of every page present in the pages file, as a flat BigUint64Array. */
function pageTable(cp: Checkpoint, p: Proc, cache: Map<number, BigUint64Array>): BigUint64Array {
  if (p.pagesId === null || !cp.has(`pages-${p.pagesId}.img`)) return new BigUint64Array(0);
  let hashes = cache.get(p.pagesId);
  if (!hashes) { hashes = hashPagesFile(cp, `pages-${p.pagesId}.img`); cache.set(p.pagesId, hashes); }
  // only pages that the pages file really holds (validate reports the rest)
  const avail = hashes.length;
  let n = 0;
  for (const e of p.pm) if (e.fileOff >= 0) n += Math.max(0, Math.min(e.nr, avail - e.fileOff / PAGE));
  const t = new BigUint64Array(2 * n);
  // filled as u32 pairs: addresses are Numbers (checkpoint.ts), hashes copied as bits
  const t32 = new Uint32Array(t.buffer), h32 = new Uint32Array(hashes.buffer, hashes.byteOffset, hashes.length * 2);
  let k = 0;
  for (const e of p.pm) {
    if (e.fileOff < 0) continue;
    const first = e.fileOff / PAGE;
    const cnt = Math.max(0, Math.min(e.nr, avail - first));
    for (let i = 0; i < cnt; i++) {
      const a = e.vaddr + i * PAGE, hi = Math.floor(a / 4294967296);
      t32[4 * k] = a - hi * 4294967296; t32[4 * k + 1] = hi;
      t32[4 * k + 2] = h32[2 * (first + i)]; t32[4 * k + 3] = h32[2 * (first + i) + 1];
      k++;
    }
  }
  // sort by address if the pagemap was not sorted (validate reports that)
  let sorted = true;
  for (let i = 1; i < n; i++) if (t[2 * i] <= t[2 * i - 2]) { sorted = false; break; }
  if (!sorted) {
    const idx = Array.from({ length: n }, (_, i) => i).sort((x, y) => (t[2 * x] < t[2 * y] ? -1 : t[2 * x] > t[2 * y] ? 1 : 0));
    const u = new BigUint64Array(2 * n);
    idx.forEach((j, i) => { u[2 * i] = t[2 * j]; u[2 * i + 1] = t[2 * j + 1]; });
    return u;
  }
  return t;
}

/** Merge-join two page tables in the Wasm core: rows of (addr, kind 1 changed / 2 added / 3 removed). */
function matchPages(a: BigUint64Array, b: BigUint64Array): BigUint64Array {
  const ex = core();
  const na = a.length / 2, nb = b.length / 2;
  const pa = allocBytes(Math.max(16, a.byteLength)), pb = allocBytes(Math.max(16, b.byteLength)), po = allocBytes(Math.max(16, 16 * (na + nb)));
  try {
    new BigUint64Array(ex.memory.buffer, pa, a.length).set(a);
    new BigUint64Array(ex.memory.buffer, pb, b.length).set(b);
    const n = ex.diff_match(pa, na, pb, nb, po);
    return new BigUint64Array(ex.memory.buffer.slice(po, po + 16 * n));
  } finally { release(pa); release(pb); release(po); }
}

function vmaAt(vmas: Vma[], addr: number): number {
  let lo = 0, hi = vmas.length - 1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (vmas[m].end <= addr) lo = m + 1;
    else if (vmas[m].start > addr) hi = m - 1;
    else return m;
  }
  return -1; // not inside a VMA (or the VMAs are unsorted, which validate reports)
}

export function diffCheckpoints(A: Checkpoint, B: Checkpoint): DiffResult {
  const pa = new Map(A.procs().map((p) => [p.pid, p]));
  const pb = new Map(B.procs().map((p) => [p.pid, p]));
  const fa = A.fileById(), fb = B.fileById();
  const res: DiffResult = {
    a: A.dir, b: B.dir, processesAdded: [], processesRemoved: [], processes: [],
    socketsAdded: [], socketsRemoved: [], socketsChanged: [], pageBytes: 0, identical: true,
  };
  for (const [pid, p] of pb) if (!pa.has(pid)) res.processesAdded.push({ pid, comm: p.comm });
  for (const [pid, p] of pa) if (!pb.has(pid)) res.processesRemoved.push({ pid, comm: p.comm });
  const cacheA = new Map<number, BigUint64Array>(), cacheB = new Map<number, BigUint64Array>();
  for (const [pid, a] of pa) {
    const b = pb.get(pid);
    if (!b) continue;
    const d: ProcDiff = {
      pid, comm: b.comm,
      threadsAdded: b.threads.filter((t) => !a.threads.includes(t)),
      threadsRemoved: a.threads.filter((t) => !b.threads.includes(t)),
      fdsAdded: [], fdsRemoved: [], fdsChanged: [], vmas: [],
      pages: { changed: 0, added: 0, removed: 0, same: 0 },
    };
    // fds
    const fdA = new Map(a.fds.map((f) => [f.fd, fileDesc(fa.get(f.id))]));
    const fdB = new Map(b.fds.map((f) => [f.fd, fileDesc(fb.get(f.id))]));
    for (const [fd, w] of fdB) { const o = fdA.get(fd); if (o === undefined) d.fdsAdded.push({ fd, what: w }); else if (o !== w) d.fdsChanged.push({ fd, from: o, to: w }); }
    for (const [fd, w] of fdA) if (!fdB.has(fd)) d.fdsRemoved.push({ fd, what: w });
    // VMAs, keyed by start address
    const vA = new Map(a.vmas.map((v) => [v.start, v]));
    const vB = new Map(b.vmas.map((v) => [v.start, v]));
    const rows = new Map<string, VmaDiff>();
    const row = (v: Vma, status: VmaDiff['status']): VmaDiff => {
      const k = hex(v.start);
      let r = rows.get(k);
      if (!r) { r = { start: k, end: hex(v.end), name: v.name, kind: v.kind, status, perms: perms(v), pagesChanged: 0, pagesAdded: 0, pagesRemoved: 0 }; rows.set(k, r); }
      return r;
    };
    for (const v of b.vmas) {
      const o = vA.get(v.start);
      if (!o) row(v, 'added');
      else if (o.end !== v.end) { const r = row(v, 'resized'); r.oldEnd = hex(o.end); }
      else if (perms(o) !== perms(v) || o.name !== v.name) { const r = row(v, 'changed'); r.oldPerms = perms(o); }
    }
    for (const v of a.vmas) if (!vB.has(v.start)) row(v, 'removed');
    // pages
    const ta = pageTable(A, a, cacheA), tb = pageTable(B, b, cacheB);
    res.pageBytes += (ta.length / 2 + tb.length / 2) * PAGE;
    const m = matchPages(ta, tb);
    const changed: NonNullable<ProcDiff['changedPages']> = [];
    for (let i = 0; i < m.length; i += 2) {
      const addr = Number(m[i]), kind = Number(m[i + 1]);
      const side = kind === 3 ? a : b;
      const vi = vmaAt(side.vmas, addr);
      const r = vi >= 0 ? row(side.vmas[vi], (vB.has(side.vmas[vi].start) && vA.has(side.vmas[vi].start)) ? 'same' : (kind === 3 ? 'removed' : 'added')) : null;
      const change = kind === 1 ? 'changed' : kind === 2 ? 'added' : 'removed';
      if (kind === 1) { d.pages.changed++; if (r) r.pagesChanged++; }
      else if (kind === 2) { d.pages.added++; if (r) r.pagesAdded++; }
      else { d.pages.removed++; if (r) r.pagesRemoved++; }
      if (changed.length < 10000) changed.push({ addr: hex(addr), change });
    }
    d.pages.same = tb.length / 2 - d.pages.changed - d.pages.added;
    d.changedPages = changed;
    d.vmas = [...rows.values()].sort((x, y) => (Number(x.start) - Number(y.start)));
    const changedAny = d.threadsAdded.length || d.threadsRemoved.length || d.fdsAdded.length || d.fdsRemoved.length || d.fdsChanged.length || d.vmas.length || d.pages.changed || d.pages.added || d.pages.removed;
    if (changedAny) res.identical = false;
    res.processes.push(d);
  }
  // sockets and connections (whole checkpoint)
  const sk = (cp: Checkpoint) => {
    const m = new Map<string, string>();
    const q = cp.queues();
    for (const f of cp.entries('files.img')) {
      const k = socketKey(f);
      if (!k) continue;
      const qq = q.get(num(f.id));
      m.set(k[0], k[1] + (qq ? `, ${qq.in} bytes queued in${qq.out !== undefined ? `, ${qq.out} out` : ''}` : ''));
    }
    return m;
  };
  const sa = sk(A), sb = sk(B);
  for (const [k, w] of sb) { const o = sa.get(k); if (o === undefined) res.socketsAdded.push(w); else if (o !== w) res.socketsChanged.push({ from: o, to: w }); }
  for (const [k, w] of sa) if (!sb.has(k)) res.socketsRemoved.push(w);
  if (res.processesAdded.length || res.processesRemoved.length || res.socketsAdded.length || res.socketsRemoved.length || res.socketsChanged.length) res.identical = false;
  return res;
}

export function formatDiff(r: DiffResult): string {
  const L: string[] = [];
  for (const p of r.processesAdded) L.push(`+ process ${p.pid} (${p.comm})`);
  for (const p of r.processesRemoved) L.push(`- process ${p.pid} (${p.comm})`);
  for (const d of r.processes) {
    const head = `process ${d.pid} (${d.comm}): pages ${d.pages.changed} changed, ${d.pages.added} added, ${d.pages.removed} removed, ${d.pages.same} same`;
    L.push(head);
    for (const t of d.threadsAdded) L.push(`  + thread ${t}`);
    for (const t of d.threadsRemoved) L.push(`  - thread ${t}`);
    for (const f of d.fdsAdded) L.push(`  + fd ${f.fd}: ${f.what}`);
    for (const f of d.fdsRemoved) L.push(`  - fd ${f.fd}: ${f.what}`);
    for (const f of d.fdsChanged) L.push(`  ~ fd ${f.fd}: ${f.from} -> ${f.to}`);
    for (const v of d.vmas) {
      const mark = v.status === 'added' ? '+' : v.status === 'removed' ? '-' : '~';
      let s = `  ${mark} vma ${v.start}-${v.end} ${v.perms} ${v.name || v.kind}`;
      if (v.status === 'resized') s += ` (resized from end ${v.oldEnd})`;
      if (v.status === 'changed') s += ` (was ${v.oldPerms})`;
      const pg = [v.pagesChanged && `${v.pagesChanged} changed`, v.pagesAdded && `${v.pagesAdded} added`, v.pagesRemoved && `${v.pagesRemoved} removed`].filter(Boolean);
      if (pg.length) s += `: pages ${pg.join(', ')}`;
      L.push(s);
    }
  }
  for (const s of r.socketsAdded) L.push(`+ socket ${s}`);
  for (const s of r.socketsRemoved) L.push(`- socket ${s}`);
  for (const s of r.socketsChanged) L.push(`~ socket ${s.from} -> ${s.to}`);
  L.push(r.identical ? 'no differences' : 'checkpoints differ');
  return L.join('\n') + '\n';
}
