// tscr mem: memory map of one process, content search over its dumped pages
// (literal and hex in the Wasm core, regex in JS), and hexdumps by address.
import { core, allocBytes, release } from '../../core-as/host.ts';
import { TscrError } from '../errors.ts';
import { lastStartAtOrBelow, Checkpoint, PAGE, type Proc, type Vma } from './checkpoint.ts';

export interface MapRow {
  start: string; end: string; size: number; perms: string; kind: string; name: string;
  presentPages: number; pages: number;
}

/** Hex of an address (a Number, see checkpoint.ts's Vma; or a BigInt from the command line). */
export function hex(x: bigint | number): string { return typeof x === 'number' && x >= 0 ? '0x' + x.toString(16) : '0x' + BigInt.asUintN(64, BigInt(x)).toString(16); }

export function perms(v: Vma): string {
  return (v.prot.includes('PROT_READ') ? 'r' : '-') + (v.prot.includes('PROT_WRITE') ? 'w' : '-')
    + (v.prot.includes('PROT_EXEC') ? 'x' : '-') + (v.flags.includes('MAP_SHARED') ? 's' : 'p');
}

/**
 * Pages of each VMA that are in the pages file. With the checkpoint, the pagemap is
 * walked from the core's table (no PmEntry objects: most of `tscr mem`'s time on large
 * memories was making and collecting them).
 */
export function presentPerVma(p: Proc, cp?: Checkpoint): number[] {
  const vm = p.vmas;
  const counts: number[] = new Array(vm.length).fill(0);
  let v = 0;
  let budget = 20_000_000; // bad input (huge overlapping entries) must not make this quadratic
  const one = (vaddr: number, nr: number, _flags: number, fileOff: number) => {
    if (fileOff < 0 || nr <= 0) return;
    const end = vaddr + nr * PAGE;
    if (v >= vm.length || vm[v].start > vaddr) v = lastStartAtOrBelow(vm, vaddr); // out of order: jump, never crawl
    while (v < vm.length && vm[v].end <= vaddr) v++;
    for (let k = v; k < vm.length && vm[k].start < end && budget-- > 0; k++) {
      const a = vaddr > vm[k].start ? vaddr : vm[k].start;
      const b = end < vm[k].end ? end : vm[k].end;
      if (b > a) counts[k] += Math.floor((b - a) / PAGE);
    }
  };
  if (!cp || !cp.eachPagemapRow(p.pid, one)) for (const e of p.pm) one(e.vaddr, e.nr, e.flags, e.fileOff);
  return counts;
}

export function memoryMap(p: Proc): MapRow[] {
  const present = presentPerVma(p);
  const vm = p.vmas;
  const out: MapRow[] = new Array(vm.length);
  for (let i = 0; i < vm.length; i++) {
    const v = vm[i];
    out[i] = {
      start: '0x' + v.start.toString(16), end: '0x' + v.end.toString(16), size: v.end - v.start, perms: perms(v), kind: v.kind, name: v.name,
      presentPages: present[i], pages: Math.floor((v.end - v.start) / PAGE),
    };
  }
  return out;
}

export function vmaOf(p: Proc, addr: number): Vma | undefined {
  const i = lastStartAtOrBelow(p.vmas, addr);
  const v = p.vmas[i];
  return v && v.start <= addr && addr < v.end ? v : p.vmas.find((x) => x.start <= addr && addr < x.end);
}

/** Runs of pages that are contiguous both in memory and in the pages file. */
interface Run { vaddr: number; fileOff: number; bytes: number }
function runs(p: Proc): Run[] {
  const out: Run[] = [];
  for (const e of p.pm) {
    if (e.fileOff < 0 || e.nr <= 0) continue;
    const last = out[out.length - 1];
    if (last && last.vaddr + last.bytes === e.vaddr && last.fileOff + last.bytes === e.fileOff) last.bytes += e.nr * PAGE;
    else out.push({ vaddr: e.vaddr, fileOff: e.fileOff, bytes: e.nr * PAGE });
  }
  return out;
}

export interface Hit { addr: string; vma: string; offsetInVma: string; match: string; context: string }

export type Needle = { kind: 'string' | 'hex'; bytes: Uint8Array } | { kind: 'regex'; re: RegExp };

export function parseHex(s: string): Uint8Array {
  const clean = s.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  if (!clean.length || clean.length % 2 || /[^0-9a-f]/i.test(clean)) {
    throw new TscrError('E_USAGE', `--hex wants an even number of hex digits, got "${s}"`, { hint: 'e.g. --hex "de ad be ef" or --hex deadbeef' });
  }
  return Uint8Array.from(clean.match(/../g)!.map((h) => parseInt(h, 16)));
}

function printable(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  return s;
}

/**
 * How the dumped memory is scanned: CHUNK bytes at a time (one read into the core's
 * buffer), each chunk followed by an overlap from the next one so that a match starting
 * in the chunk is seen whole. A literal (--search, --hex) needs needle-1 bytes of
 * overlap. A regex (--regex) gets REGEX_OVERLAP bytes: every match of up to that length
 * (lookarounds included) is found. A match that runs into the end of the window (a
 * greedy `A+`, `.*`, or a `$` that only matched because the window ended there) is
 * re-run alone, anchored at its start, on a window that doubles until the match ends
 * inside it or the window reaches REGEX_MAX_MATCH; longer matches are an error that
 * says so. What no window can show is a pattern that needs more than REGEX_OVERLAP
 * bytes before it matches at all (`A{100000}`): a counted repetition above
 * REGEX_OVERLAP is refused up front (checkRegexLength).
 * Tests lower these to exercise the boundaries on small checkpoints.
 */
export const SEARCH_LIMITS = { chunk: 16 << 20, regexOverlap: 64 << 10, regexMaxMatch: 16 << 20 };

/** Refuse a regex whose counted repetitions alone need more than the overlap (see SEARCH_LIMITS). */
export function checkRegexLength(re: RegExp): void {
  for (const m of re.source.matchAll(/(?<!\\)\{(\d+)(?:,(\d*))?\}/g)) {
    const n = Number(m[1]);
    if (n > SEARCH_LIMITS.regexOverlap) {
      throw new TscrError('E_USAGE', `--regex repeats something ${n} times; tscr finds regex matches of up to ${SEARCH_LIMITS.regexOverlap} bytes (longer ones only when a shorter prefix already matches)`,
        { hint: `search for a shorter part of it (e.g. {${Math.min(1000, SEARCH_LIMITS.regexOverlap)}}), or use --search/--hex for a literal of any length` });
    }
  }
}

/** Search the dumped memory of one process. */
export function search(cp: Checkpoint, p: Proc, needle: Needle, maxHits = 1000, onBytes?: (d: number, t: number) => void): { hits: Hit[]; total: number; bytes: number } {
  if (p.pagesId === null) return { hits: [], total: 0, bytes: 0 };
  const pagesId = p.pagesId;
  const CHUNK = SEARCH_LIMITS.chunk;
  const ex = core();
  const hits: Hit[] = [];
  let total = 0;
  const rs = runs(p);
  const allBytes = rs.reduce((a, r) => a + r.bytes, 0);
  let done = 0;
  const nlen = needle.kind === 'regex' ? 0 : needle.bytes.length;
  const overlap = needle.kind === 'regex' ? SEARCH_LIMITS.regexOverlap : Math.max(0, nlen - 1);
  if (needle.kind === 'regex') checkRegexLength(needle.re);
  const buf = allocBytes(CHUNK + overlap);
  const npin = needle.kind === 'regex' ? 0 : allocBytes(nlen);
  const outCap = 4096;
  const outPtr = allocBytes(outCap * 4);
  const ctxBytes = 16;
  const record = (addr: number, matchBytes: Uint8Array, chunk: Uint8Array, at: number) => {
    total++;
    if (hits.length >= maxHits) return;
    const v = vmaOf(p, addr);
    const c0 = Math.max(0, at - ctxBytes), c1 = Math.min(chunk.length, at + matchBytes.length + ctxBytes);
    hits.push({
      addr: hex(addr), vma: v ? `${hex(v.start)}-${hex(v.end)} ${perms(v)} ${v.name || v.kind}` : '(no vma)',
      offsetInVma: v ? hex(addr - v.start) : '', match: printable(matchBytes), context: printable(chunk.subarray(c0, c1)),
    });
  };
  const readRun = (r: Run, at: number, dst: Uint8Array) => {
    const got = cp.readPagesInto(pagesId, r.fileOff + at, dst);
    if (got < dst.length) throw new TscrError('E_TRUNCATED', `pages-${pagesId}.img ends early at offset ${r.fileOff + at + got}`, { file: cp.path(`pages-${pagesId}.img`), offset: r.fileOff + at + got, hint: 'run `tscr validate` on this checkpoint' });
  };
  // A regex match at run offset `at` that reached the end of its window: run the regex
  // anchored there on larger windows until the match ends inside one (or the run ends).
  const rescan = (re: RegExp, r: Run, at: number, had: number): { text: string; chunk: Buffer } | null => {
    const sticky = new RegExp(re.source, re.flags.replace('g', '') + 'y');
    for (let w = Math.max(2 * had, 4096); ; w *= 2) {
      const len = Math.min(w, r.bytes - at, SEARCH_LIMITS.regexMaxMatch + 1);
      const chunk = Buffer.allocUnsafe(len);
      readRun(r, at, chunk);
      const text = chunk.toString('latin1');
      sticky.lastIndex = 0;
      const m = sticky.exec(text);
      if (!m) return null;
      if (m[0].length < len || at + len >= r.bytes) return { text: m[0], chunk };
      if (len > SEARCH_LIMITS.regexMaxMatch) {
        throw new TscrError('E_USAGE', `--regex matches more than ${SEARCH_LIMITS.regexMaxMatch} bytes at ${hex(r.vaddr + at)}; tscr reports regex matches of up to ${SEARCH_LIMITS.regexMaxMatch} bytes`,
          { hint: 'bound the pattern\'s repetitions (e.g. .{0,1000} instead of .*), or search for a shorter part of it' });
      }
    }
  };
  try {
    if (npin) new Uint8Array(ex.memory.buffer, npin, nlen).set((needle as any).bytes);
    for (const r of rs) {
      let skipUntil = 0; // run offset where the last (long) regex match ended: no match starts inside it
      for (let pos = 0; pos < r.bytes; pos += CHUNK) {
        const len = Math.min(CHUNK + overlap, r.bytes - pos);
        const view = new Uint8Array(ex.memory.buffer, buf, len);
        readRun(r, pos, view);
        const limit = Math.min(CHUNK, len); // matches must start in this chunk's own part
        if (needle.kind === 'regex') {
          if (skipUntil - pos >= limit) { done += limit; onBytes?.(done, allBytes); continue; }
          const chunk = Buffer.from(ex.memory.buffer.slice(buf, buf + len));
          const text = chunk.toString('latin1');
          const re = new RegExp(needle.re.source, needle.re.flags.includes('g') ? needle.re.flags : needle.re.flags + 'g');
          re.lastIndex = Math.max(0, skipUntil - pos);
          let m: RegExpExecArray | null;
          while ((m = re.exec(text))) {
            if (m.index >= limit) break;
            const at = m.index;
            if (at + m[0].length >= len && pos + len < r.bytes) {
              // the window cut this match short (or made it match): see it whole
              const whole = rescan(needle.re, r, pos + at, len - at);
              if (!whole) { re.lastIndex = at + 1; continue; }
              record(r.vaddr + pos + at, Buffer.from(whole.text, 'latin1'), whole.chunk, 0);
              skipUntil = pos + at + Math.max(1, whole.text.length);
              break; // the next match starts after this one, beyond this window
            }
            record(r.vaddr + pos + at, Buffer.from(m[0], 'latin1'), chunk, at);
            skipUntil = pos + at + m[0].length;
            if (m[0].length === 0) re.lastIndex++;
          }
        } else {
          const n = ex.mem_find(buf, len, npin, nlen, outPtr, outCap);
          if (n > 0) {
            const offs = new Uint32Array(ex.memory.buffer.slice(outPtr, outPtr + Math.min(n, outCap) * 4));
            const chunk = new Uint8Array(ex.memory.buffer.slice(buf, buf + len));
            for (const o of offs) if (o < limit) record(r.vaddr + pos + o, needle.bytes, chunk, o);
            if (n > outCap) total += n - outCap; // counted, not listed
          }
        }
        done += Math.min(CHUNK, r.bytes - pos);
        onBytes?.(done, allBytes);
      }
    }
  } finally { release(buf); if (npin) release(npin); release(outPtr); }
  return { hits, total, bytes: allBytes };
}

/** Bytes [addr, addr+len) of the process as dumped; null per byte where the page is not in the dump. */
export function readMemory(cp: Checkpoint, p: Proc, addr: bigint, len: number): { data: Uint8Array; present: Uint8Array } {
  if (len > 64 << 20) throw new TscrError('E_USAGE', `--dump length ${len} is too large (at most 64 MiB)`);
  const data = new Uint8Array(len);
  const present = new Uint8Array(len);
  if (p.pagesId === null) return { data, present };
  for (const e of p.pm) {
    if (e.fileOff < 0) continue;
    const s = BigInt(e.vaddr), t = s + BigInt(e.nr * PAGE);
    const a = addr > s ? addr : s;
    const b = addr + BigInt(len) < t ? addr + BigInt(len) : t;
    if (a >= b) continue;
    const n = Number(b - a);
    const dst = data.subarray(Number(a - addr), Number(a - addr) + n);
    cp.readPagesInto(p.pagesId, e.fileOff + Number(a - s), dst);
    present.fill(1, Number(a - addr), Number(a - addr) + n);
  }
  return { data, present };
}

export function hexdump(addr: bigint, data: Uint8Array, present: Uint8Array): string {
  let s = '';
  for (let i = 0; i < data.length; i += 16) {
    let h = '', a = '';
    for (let j = 0; j < 16; j++) {
      if (i + j >= data.length) { h += '   '; continue; }
      if (!present[i + j]) { h += '?? '; a += ' '; continue; }
      const c = data[i + j];
      h += c.toString(16).padStart(2, '0') + ' ';
      a += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
    }
    s += `${BigInt.asUintN(64, addr + BigInt(i)).toString(16).padStart(12, '0')}  ${h.slice(0, 24)} ${h.slice(24)} |${a}|\n`;
  }
  return s;
}
