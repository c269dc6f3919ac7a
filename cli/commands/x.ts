// tscr x DIR ps|fds|mems|rss: explore an image directory (like crit x).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, Ctx } from '../context.ts';
import { usage } from '../context.ts';
import { readImage } from '../../lib/images.ts';

export interface XArgs { dir: string; what: string; json?: boolean }

const num = (v: unknown): number => Number(v);
const hex = (v: unknown): string => BigInt(v as any).toString(16);
const pad = (s: string | number, w: number, left = false) => { const t = String(s); return left ? t.padEnd(w) : t.padStart(w); };

class Explorer {
  private files: any[] | null = null;
  private perImage = new Map<string, any[]>();
  private cache = new Map<string, string>();
  constructor(private dir: string) {}
  load(name: string): any[] { return readImage(join(this.dir, name), { raw: true }).entries; }
  taskId(p: any, key: string): number { return key in p ? num(p[key]) : num(p['ns_' + key][0]); }
  private findIn(field: string, id: number, img: string): any {
    if (this.files === null) {
      try { this.files = this.load('files.img'); } catch { this.files = []; }
    }
    if (this.files.length) {
      const f = this.files.find((x) => num(x.id) === id);
      if (f) return f[field] ?? null;
      return null;
    }
    if (!this.perImage.has(img)) this.perImage.set(img, existsSync(join(this.dir, img)) ? this.load(img) : []);
    return this.perImage.get(img)!.find((x) => num(x.id) === id) ?? null;
  }
  fileStr(type: string, id: number): string {
    const key = `${type}/${id}`;
    let s = this.cache.get(key);
    if (s !== undefined) return s;
    if (type === 'REG') { const r = this.findIn('reg', id, 'reg-files.img'); s = r?.name || 'unknown path'; }
    else if (type === 'PIPE') { const p = this.findIn('pipe', id, 'pipes.img'); s = p ? `pipe[${num(p.pipe_id)}]` : 'pipe[?]'; }
    else if (type === 'UNIXSK') {
      const u = this.findIn('usk', id, 'unixsk.img');
      s = u ? `unix[${num(u.ino)} (${num(u.peer)})${u.name ? ' ' + u.name : ''}]` : 'unix[?]';
    } else s = `${type}.${id}`;
    this.cache.set(key, s!);
    return s!;
  }
}

function explore(dir: string, what: string, print: (s: string) => void): void {
  const x = new Explorer(dir);
  const ps = x.load('pstree.img');
  if (what === 'ps') {
    const procs = new Map<number, { p: any; comm: string; kids: number[] }>();
    for (const p of ps) {
      const pid = x.taskId(p, 'pid');
      const core = x.load(`core-${pid}.img`)[0];
      procs.set(pid, { p, comm: core.tc.comm, kids: [] });
    }
    let root: number | null = null;
    for (const [pid, it] of procs) {
      const ppid = num(it.p.ppid);
      if (ppid === 0) { root = pid; continue; }
      procs.get(ppid)?.kids.push(pid);
    }
    print(`${pad('PID', 7)}${pad('PGID', 7)}${pad('SID', 7)}   COMM`);
    const show = (pid: number, depth: number) => {
      const it = procs.get(pid)!;
      print(`${pad(pid, 7)}${pad(x.taskId(it.p, 'pgid'), 7)}${pad(x.taskId(it.p, 'sid'), 7)}   ${' '.repeat(4 * depth)}${it.comm}`);
      for (const k of it.kids) show(k, depth + 1);
    };
    if (root !== null) show(root, 0);
    return;
  }
  if (what === 'fds') {
    for (const p of ps) {
      const pid = x.taskId(p, 'pid');
      const ids = x.load(`ids-${pid}.img`)[0];
      print(String(pid));
      for (const fd of x.load(`fdinfo-${num(ids.files_id)}.img`)) print(`\t${pad(num(fd.fd), 7)}: ${x.fileStr(fd.type, num(fd.id))}`);
      const fs = x.load(`fs-${pid}.img`)[0];
      print(`\t${pad('cwd', 7)}: ${x.fileStr('REG', num(fs.cwd_id))}`);
      print(`\t${pad('root', 7)}: ${x.fileStr('REG', num(fs.root_id))}`);
    }
    return;
  }
  if (what === 'mems') {
    const vids = new Map<string, number>();
    const vid = (id: unknown) => { const k = String(id); if (!vids.has(k)) vids.set(k, vids.size + 1); return vids.get(k)!; };
    for (const p of ps) {
      const pid = x.taskId(p, 'pid');
      const mm = x.load(`mm-${pid}.img`)[0];
      print(String(pid));
      print(`\t${pad('exe', 36, true)}    ${x.fileStr('REG', num(mm.exe_file_id))}`);
      for (const vma of mm.vmas ?? []) {
        const st = num(vma.status);
        let fn: string;
        if (st & (1 << 10)) fn = ` ips[${vid(vma.shmid).toString(16)}]`;
        else if (st & (1 << 8)) fn = ` shmem[${vid(vma.shmid).toString(16)}]`;
        else if (st & (1 << 11)) fn = ` packet[${vid(vma.shmid).toString(16)}]`;
        else if (st & ((1 << 6) | (1 << 7))) {
          fn = ' ' + x.fileStr('REG', num(vma.shmid));
          if (num(vma.pgoff)) fn += ` + 0x${hex(vma.pgoff)}`;
          if (st & (1 << 7)) fn += ' (s)';
        } else if (st & (1 << 1)) fn = ' [stack]';
        else if (st & (1 << 2)) fn = ' [vsyscall]';
        else if (st & (1 << 3)) fn = ' [vdso]';
        else if (num(vma.flags) & 0x100) fn = ' [stack?]';
        else fn = '';
        if (!(st & 1)) fn += ' *';
        const pr = num(vma.prot);
        const prot = (pr & 1 ? 'r' : '-') + (pr & 2 ? 'w' : '-') + (pr & 4 ? 'x' : '-');
        const astr = `${hex(vma.start).padStart(8, '0')}-${hex(vma.end).padStart(8, '0')}`;
        print(`\t${pad(astr, 36, true)}${prot}${fn}`);
      }
    }
    return;
  }
  // rss
  for (const p of ps) {
    const pid = x.taskId(p, 'pid');
    const vmas = x.load(`mm-${pid}.img`)[0].vmas ?? [];
    const pms = x.load(`pagemap-${pid}.img`);
    print(String(pid));
    let vmi = 0, pvmi = -1;
    const at = (i: number) => vmas[i < 0 ? vmas.length + i : i]; // crit indexes like Python
    for (const pm of pms.slice(1)) {
      const va = BigInt(pm.vaddr), np = BigInt(pm.nr_pages ?? 0);
      const pstr = `\t${va.toString(16)} / ${String(np).padEnd(8)}`;
      while (vmi < vmas.length && BigInt(at(vmi).end) <= va) vmi++;
      const pme = va + (np << 12n);
      let vstr = '';
      while (vmi < vmas.length && BigInt(at(vmi).start) < pme) {
        const vma = at(vmi);
        if (vmi === pvmi) vstr += ' ~';
        else {
          vstr += ` ${hex(vma.start).padStart(8, '0')} / ${String((BigInt(vma.end) - BigInt(vma.start)) >> 12n).padEnd(8)}`;
          if (num(vma.status) & ((1 << 6) | (1 << 7))) vstr += ' ' + x.fileStr('REG', num(vma.shmid));
          pvmi = vmi;
        }
        vstr += '\n\t' + ' '.repeat(23);
        vmi++;
      }
      vmi--;
      print(`${pstr.padEnd(24)}${vstr}`);
    }
  }
}

export function runX(args: XArgs, ctx: Pick<Ctx, 'out' | 'json' | 'jsonMode'>): number {
  if (!args.dir || !['ps', 'fds', 'mems', 'rss'].includes(args.what)) throw usage('usage: tscr x DIR ps|fds|mems|rss');
  if (ctx.jsonMode) {
    const lines: string[] = [];
    explore(args.dir, args.what, (s) => lines.push(...s.split('\n')));
    ctx.json({ dir: args.dir, what: args.what, lines });
    return 0;
  }
  explore(args.dir, args.what, (s) => ctx.out(s + '\n'));
  return 0;
}

const x: Command<XArgs> = {
  command: 'x <dir> <what>',
  describe: 'Explore an image directory: ps, fds, mems or rss (like crit x)',
  builder: (y) => y
    .positional('dir', { type: 'string', describe: 'image directory' })
    .positional('what', { type: 'string', choices: ['ps', 'fds', 'mems', 'rss'] }),
  run: (args, ctx) => runX(args, ctx),
};
export default x;
