// Offline validation primitives (issue 6). Exports are prefixed val_*.
//
// 1. val_frames: walks the framing of one CRIU image file without trusting it:
//    magic words, then entries of (u32 little-endian size, protobuf payload),
//    with the kind-specific raw payloads ("extra") that follow some entries.
//    Every payload is also checked at the protobuf wire level (tags, wire
//    types, varints, lengths) so a truncated or garbled entry is found even
//    where a lenient decoder would accept it.
// 2. val_ranges: checks the memory layout of one process: VMAs sorted,
//    page-aligned, non-overlapping; pagemap entries sorted, non-overlapping,
//    each inside one VMA; counts the pages that must be in pages-N.img.
//
// Results are flat little-endian u32/u64 tables (see the layouts below) that
// the host copies out; no strings cross the boundary.

// ---- val_frames ----------------------------------------------------------

// Extra-payload rules (mode argument).
const X_NONE: i32 = 0;      // entries only
const X_FIELD: i32 = 1;     // extra = value of varint field a
const X_FIELD2: i32 = 2;    // extra = field a + field b
const X_GHOST: i32 = 3;     // ghost file: head entry; chunks (field 9) ? (entry + field 1 bytes)* : rest is raw
const X_RAW: i32 = 4;       // no framing at all (pages-N.img)

// Status codes (first word of the result).
const VS_OK: u32 = 0;
const VS_SHORT_MAGIC: u32 = 1;   // file shorter than its magic words
const VS_SHORT_SIZE: u32 = 2;    // a size word is cut off
const VS_SHORT_ENTRY: u32 = 3;   // an entry runs past the end of the file
const VS_BAD_PROTO: u32 = 4;     // payload is not well-formed protobuf
const VS_SHORT_EXTRA: u32 = 5;   // an extra payload runs past the end
const VS_TOO_LARGE: u32 = 6;     // an absurd size (> limit)
const VS_TOO_MANY: u32 = 7;      // more entries than the limit

const IMG_COMMON: u32 = 0x54564319;
const IMG_SERVICE: u32 = 0x55105940;

// Protobuf wire check of bytes [p, end). Returns -1 when well-formed, else the
// offset of the first bad byte. Also remembers varint fields a and b.
let fieldA: u64 = 0;
let fieldB: u64 = 0;
let varintEnd: i32 = 0;

function readVarint(base: usize, p: i32, end: i32): u64 {
  let v: u64 = 0;
  let shift: u64 = 0;
  while (true) {
    if (p >= end || shift > 63) { varintEnd = -1; return 0; }
    const b = <u64>load<u8>(base + <usize>p);
    p++;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
    shift += 7;
  }
  varintEnd = p;
  return v;
}

function wireCheck(base: usize, p: i32, end: i32, a: i32, b: i32): i32 {
  fieldA = 0; fieldB = 0;
  while (p < end) {
    const start = p;
    const key = readVarint(base, p, end);
    if (varintEnd < 0) return start;
    p = varintEnd;
    const field = <i32>(key >> 3);
    const wt = <i32>(key & 7);
    if (field == 0) return start;
    if (wt == 0) {
      const v = readVarint(base, p, end);
      if (varintEnd < 0) return p;
      p = varintEnd;
      if (field == a) fieldA = v;
      if (field == b) fieldB = v;
    } else if (wt == 1) {
      if (end - p < 8) return p;
      p += 8;
    } else if (wt == 5) {
      if (end - p < 4) return p;
      p += 4;
    } else if (wt == 2) {
      const len = readVarint(base, p, end);
      if (varintEnd < 0) return p;
      if (len > <u64>(end - varintEnd)) return p;
      p = varintEnd + <i32>len;
    } else {
      return start; // groups (3, 4) are not used by CRIU; 6, 7 do not exist
    }
  }
  return -1;
}

/**
 * Walk one image file. mode: X_* above; a, b: field numbers for the extra
 * payload length; maxEntry: largest sane entry size; maxCount: most entries.
 * Result (u32 words): [status, badOffset, magic1, magic2, headerLen, count,
 *   then count x (offset, size, extraOffset, extraLen)]. offset is that of the
 *   entry's size word. On failure the entries walked so far are listed.
 */
export function val_frames(buf: ArrayBuffer, mode: i32, a: i32, b: i32, maxEntry: u32, maxCount: u32): ArrayBuffer {
  const base = changetype<usize>(buf);
  const n = buf.byteLength;
  const out = new Array<u32>();
  let status = VS_OK;
  let bad: i32 = 0;
  let m1: u32 = 0, m2: u32 = 0;
  let p: i32 = 0;
  if (mode == X_RAW) {
    return frameResult(VS_OK, 0, 0, 0, 0, out);
  }
  if (n < 4) return frameResult(VS_SHORT_MAGIC, 0, 0, 0, 0, out);
  m1 = load<u32>(base);
  p = 4;
  if (m1 == IMG_COMMON || m1 == IMG_SERVICE) {
    if (n < 8) return frameResult(VS_SHORT_MAGIC, 4, m1, 0, 4, out);
    m2 = load<u32>(base + 4);
    p = 8;
  }
  const header = p;
  let count: u32 = 0;
  let ghostChunks = false;
  while (p < n) {
    if (count >= maxCount) { status = VS_TOO_MANY; bad = p; break; }
    if (n - p < 4) { status = VS_SHORT_SIZE; bad = p; break; }
    const size = load<u32>(base + <usize>p);
    if (size > maxEntry) { status = VS_TOO_LARGE; bad = p; break; }
    if (<u32>(n - p - 4) < size) { status = VS_SHORT_ENTRY; bad = p; break; }
    const body = p + 4;
    const end = body + <i32>size;
    let fa: i32 = a, fb: i32 = b;
    if (mode == X_GHOST) {
      if (count == 0) { fa = 9; fb = 0; } else { fa = 1; fb = 0; }
    }
    const w = wireCheck(base, body, end, fa, fb);
    if (w >= 0) { status = VS_BAD_PROTO; bad = w; break; }
    let extra: u64 = 0;
    let xoff: i32 = end;
    if (mode == X_FIELD) extra = fieldA;
    else if (mode == X_FIELD2) extra = fieldA + fieldB;
    else if (mode == X_GHOST) {
      if (count == 0) {
        ghostChunks = fieldA != 0;
        if (!ghostChunks) extra = <u64>(n - end);
      } else extra = fieldA;
    }
    if (extra > <u64>(n - end)) {
      out.push(<u32>p); out.push(size); out.push(<u32>xoff); out.push(<u32>(n - end));
      count++;
      status = VS_SHORT_EXTRA; bad = end; break;
    }
    out.push(<u32>p); out.push(size); out.push(<u32>xoff); out.push(<u32>extra);
    count++;
    p = end + <i32>extra;
  }
  return frameResult(status, bad, m1, m2, header, out);
}

function frameResult(status: u32, bad: i32, m1: u32, m2: u32, header: i32, rows: Array<u32>): ArrayBuffer {
  const r = new ArrayBuffer(4 * (6 + rows.length));
  const base = changetype<usize>(r);
  store<u32>(base, status);
  store<u32>(base + 4, <u32>bad);
  store<u32>(base + 8, m1);
  store<u32>(base + 12, m2);
  store<u32>(base + 16, <u32>header);
  store<u32>(base + 20, <u32>(rows.length / 4));
  for (let i = 0; i < rows.length; i++) store<u32>(base + 24 + <usize>(i << 2), unchecked(rows[i]));
  return r;
}

// ---- val_ranges ----------------------------------------------------------

// Finding codes (one row each: code, index, other index).
const VR_VMA_EMPTY: u32 = 1;        // vma start >= end
const VR_VMA_ALIGN: u32 = 2;        // vma bounds not page aligned
const VR_VMA_ORDER: u32 = 3;        // vma starts before the previous one ends (overlap / unsorted)
const VR_PM_ZERO: u32 = 4;          // pagemap entry with nr_pages == 0
const VR_PM_ALIGN: u32 = 5;         // pagemap vaddr not page aligned
const VR_PM_ORDER: u32 = 6;         // pagemap entry overlaps/precedes the previous one
const VR_PM_OUTSIDE: u32 = 7;       // pagemap range not covered by vmas (adjacent vmas count as one)
const VR_PM_WRAP: u32 = 8;          // vaddr + nr_pages*4096 overflows

// Index of the last VMA whose start is <= va (0 when none).
function lastStartAtOrBelow(vb: usize, nv: i32, va: u64): i32 {
  let lo = 0, hi = nv - 1, r = 0;
  while (lo <= hi) {
    const m = (lo + hi) >>> 1;
    if (load<u64>(vb + <usize>(m * 16)) <= va) { r = m; lo = m + 1; } else hi = m - 1;
  }
  return r;
}

// Is [va, end) inside vma k, or k and the VMAs that follow it without a gap?
let walkBudget: i64 = 0;
function covered(vb: usize, nv: i32, k: i32, va: u64, end: u64): bool {
  if (k >= nv) return false;
  const s = load<u64>(vb + <usize>(k * 16));
  let e = load<u64>(vb + <usize>(k * 16 + 8));
  if (!(s <= va && va < e)) return false;
  while (end > e) {
    // adversarial input (giant overlapping entries over many VMAs) must not
    // make this quadratic: past the budget, give the benefit of the doubt
    if (--walkBudget < 0) return true;
    k++;
    if (k >= nv || load<u64>(vb + <usize>(k * 16)) != e) return false;
    e = load<u64>(vb + <usize>(k * 16 + 8));
  }
  return true;
}

/**
 * vmas: n x (u64 start, u64 end). pm: m x (u64 vaddr, u64 nr_pages, u64 flags).
 * Result (u64 words): [presentPages, lazyPages, parentPages, nFindings,
 *   then nFindings x (code, index, otherIndex)]. presentPages counts the pages
 *   stored in pages-N.img: PE_PRESENT and not PE_PARENT (in_parent).
 */
export function val_ranges(vmas: ArrayBuffer, pm: ArrayBuffer): ArrayBuffer {
  const vb = changetype<usize>(vmas);
  const pb = changetype<usize>(pm);
  const nv = vmas.byteLength / 16;
  const np = pm.byteLength / 24;
  const rows = new Array<u64>();
  let prevEnd: u64 = 0;
  for (let i = 0; i < nv; i++) {
    const s = load<u64>(vb + <usize>(i * 16));
    const e = load<u64>(vb + <usize>(i * 16 + 8));
    if (s >= e) { rows.push(VR_VMA_EMPTY); rows.push(<u64>i); rows.push(0); }
    if ((s & 4095) != 0 || (e & 4095) != 0) { rows.push(VR_VMA_ALIGN); rows.push(<u64>i); rows.push(0); }
    if (i > 0 && s < prevEnd) { rows.push(VR_VMA_ORDER); rows.push(<u64>i); rows.push(<u64>(i - 1)); }
    if (e > prevEnd) prevEnd = e;
  }
  walkBudget = 64 << 20;
  let present: u64 = 0, lazy: u64 = 0, parent: u64 = 0;
  let pmPrevEnd: u64 = 0;
  let v = 0; // vma cursor (both lists are sorted when valid)
  // (a cursor that went past va is repositioned by binary search, so any input is O(n log n))
  for (let j = 0; j < np; j++) {
    const va = load<u64>(pb + <usize>(j * 24));
    const nr = load<u64>(pb + <usize>(j * 24 + 8));
    const fl = load<u64>(pb + <usize>(j * 24 + 16));
    if ((fl & 1) != 0) parent += nr;
    else if ((fl & 4) != 0) present += nr;
    if ((fl & 2) != 0) lazy += nr;
    if (nr == 0) { rows.push(VR_PM_ZERO); rows.push(<u64>j); rows.push(0); continue; }
    if ((va & 4095) != 0) { rows.push(VR_PM_ALIGN); rows.push(<u64>j); rows.push(0); }
    if (nr > (<u64>0xFFFFFFFFFFFFF) || va + (nr << 12) < va) { rows.push(VR_PM_WRAP); rows.push(<u64>j); rows.push(0); continue; }
    const end = va + (nr << 12);
    if (j > 0 && va < pmPrevEnd) { rows.push(VR_PM_ORDER); rows.push(<u64>j); rows.push(<u64>(j - 1)); }
    if (end > pmPrevEnd) pmPrevEnd = end;
    // the vma containing va: the cursor when entries come in order, else a
    // binary search (VMAs sorted by start; unsorted VMAs are reported above
    // and make this answer approximate, never slow). CRIU merges pagemap
    // entries across adjacent VMAs, so a range may continue into the next VMA.
    while (v < nv && load<u64>(vb + <usize>(v * 16 + 8)) <= va) v++;
    if (v >= nv || load<u64>(vb + <usize>(v * 16)) > va) v = lastStartAtOrBelow(vb, nv, va);
    const inside = covered(vb, nv, v, va, end);
    if (!inside) { rows.push(VR_PM_OUTSIDE); rows.push(<u64>j); rows.push(0); }
  }
  const r = new ArrayBuffer(8 * (4 + rows.length));
  const rb = changetype<usize>(r);
  store<u64>(rb, present);
  store<u64>(rb + 8, lazy);
  store<u64>(rb + 16, parent);
  store<u64>(rb + 24, <u64>(rows.length / 3));
  for (let i = 0; i < rows.length; i++) store<u64>(rb + 32 + <usize>(i << 3), unchecked(rows[i]));
  return r;
}

// ---- fast model extraction: VMAs of mm-PID.img, entries of pagemap-PID.img ----
// The offline tools need only a few numeric fields of these (often the largest)
// images; reading them here skips building crit-shaped JSON objects. Any
// surprise (bad framing, wrong wire type) returns status 1 and the host falls
// back to the full codec, which reports the problem precisely.

let cur: i32 = 0;
let bad = false;

function varint(base: usize, end: i32): u64 {
  let v: u64 = 0;
  let shift: u64 = 0;
  while (true) {
    if (cur >= end || shift > 63) { bad = true; return 0; }
    const b = <u64>load<u8>(base + <usize>cur);
    cur++;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
    shift += 7;
  }
}

// skip a field of wire type wt; false when malformed
function skip(base: usize, end: i32, wt: i32): bool {
  if (wt == 0) { varint(base, end); return !bad; }
  if (wt == 1) { cur += 8; return cur <= end; }
  if (wt == 5) { cur += 4; return cur <= end; }
  if (wt == 2) {
    const len = varint(base, end);
    if (bad || len > <u64>(end - cur)) return false;
    cur += <i32>len;
    return true;
  }
  return false;
}

function header(base: usize, n: i32): i32 {
  if (n < 4) return -1;
  const m1 = load<u32>(base);
  return (m1 == IMG_COMMON || m1 == IMG_SERVICE) ? 8 : 4;
}

function result(status: u64, a: u64, rows: Array<u64>, per: i32): ArrayBuffer {
  const r = new ArrayBuffer(8 * (3 + rows.length));
  const rb = changetype<usize>(r);
  store<u64>(rb, status);
  store<u64>(rb + 8, a);
  store<u64>(rb + 16, <u64>(rows.length / per));
  for (let i = 0; i < rows.length; i++) store<u64>(rb + 24 + <usize>(i << 3), unchecked(rows[i]));
  return r;
}

/**
 * mm-PID.img -> [status, exe_file_id, n, n x (start, end, pgoff, shmid, prot, flags, status, fd)].
 * fd is the sint64 zigzag-decoded and stored as u64 (-1 -> 0xffff...).
 */
export function val_mm(buf: ArrayBuffer): ArrayBuffer {
  const base = changetype<usize>(buf);
  const n = buf.byteLength;
  const rows = new Array<u64>();
  bad = false;
  const h = header(base, n);
  if (h < 0 || n - h < 4) return result(1, 0, rows, 8);
  const size = load<u32>(base + <usize>h);
  const body = h + 4;
  if (<u32>(n - body) < size) return result(1, 0, rows, 8);
  const end = body + <i32>size;
  let exe: u64 = 0;
  cur = body;
  while (cur < end) {
    const key = varint(base, end);
    if (bad) return result(1, 0, rows, 8);
    const field = <i32>(key >> 3), wt = <i32>(key & 7);
    if (field == 14) {
      if (wt != 2) return result(1, 0, rows, 8);
      const len = varint(base, end);
      if (bad || len > <u64>(end - cur)) return result(1, 0, rows, 8);
      const vend = cur + <i32>len;
      let s: u64 = 0, e: u64 = 0, pg: u64 = 0, sh: u64 = 0, pr: u64 = 0, fl: u64 = 0, st: u64 = 0, fd: u64 = 0;
      while (cur < vend) {
        const k = varint(base, vend);
        if (bad) return result(1, 0, rows, 8);
        const f = <i32>(k >> 3), w = <i32>(k & 7);
        if (f >= 1 && f <= 8) {
          if (w != 0) return result(1, 0, rows, 8);
          const v = varint(base, vend);
          if (bad) return result(1, 0, rows, 8);
          if (f == 1) s = v; else if (f == 2) e = v; else if (f == 3) pg = v; else if (f == 4) sh = v;
          else if (f == 5) pr = v; else if (f == 6) fl = v; else if (f == 7) st = v;
          else fd = (v >> 1) ^ (0 - (v & 1));
        } else if (!skip(base, vend, w)) return result(1, 0, rows, 8);
      }
      if (cur != vend) return result(1, 0, rows, 8);
      rows.push(s); rows.push(e); rows.push(pg); rows.push(sh); rows.push(pr); rows.push(fl); rows.push(st); rows.push(fd);
    } else if (field == 12) {
      if (wt != 0) return result(1, 0, rows, 8);
      exe = varint(base, end);
      if (bad) return result(1, 0, rows, 8);
    } else if (!skip(base, end, wt)) return result(1, 0, rows, 8);
  }
  if (cur != end || end != n) return result(1, 0, rows, 8); // exactly one entry
  return result(0, exe, rows, 8);
}

/**
 * pagemap-PID.img -> [status, pages_id, n, n x (vaddr, nr_pages, flags, in_parent)].
 * nr_pages is field 5, or compat field 2 when 5 is absent; flags is
 * 0xffffffffffffffff when absent (old images).
 */
/**
 * Could this pagemap describe compressed pages (criu-dev: PE_PAYLOAD_ALIGNED in flags,
 * or any entry field past nr_pages, such as compressed_size)? 0 = no, 1 = yes or cannot
 * tell (bad framing). Lets the offline tools skip the full compressed-pages decode for
 * the common, uncompressed checkpoint.
 */
export function val_pagemap_extra(buf: ArrayBuffer): i32 {
  const base = changetype<usize>(buf);
  const n = buf.byteLength;
  bad = false;
  let p = header(base, n);
  if (p < 0) return 1;
  let first = true;
  while (p < n) {
    if (n - p < 4) return 1;
    const size = load<u32>(base + <usize>p);
    const body = p + 4;
    if (<u32>(n - body) < size) return 1;
    const end = body + <i32>size;
    cur = body;
    while (cur < end) {
      const k = varint(base, end);
      if (bad) return 1;
      const f = <i32>(k >> 3), w = <i32>(k & 7);
      if (!first && (f < 1 || f > 5)) return 1;
      if (w == 0) {
        const v = varint(base, end);
        if (bad) return 1;
        if (!first && f == 4 && (v & 8) != 0) return 1;
      } else if (!skip(base, end, w)) return 1;
    }
    if (cur != end) return 1;
    first = false;
    p = end;
  }
  return 0;
}

export function val_pagemap(buf: ArrayBuffer): ArrayBuffer {
  const base = changetype<usize>(buf);
  const n = buf.byteLength;
  const rows = new Array<u64>();
  bad = false;
  let p = header(base, n);
  if (p < 0) return result(1, 0, rows, 4);
  let pagesId: u64 = 0;
  let first = true;
  while (p < n) {
    if (n - p < 4) return result(1, 0, rows, 4);
    const size = load<u32>(base + <usize>p);
    const body = p + 4;
    if (<u32>(n - body) < size) return result(1, 0, rows, 4);
    const end = body + <i32>size;
    cur = body;
    let va: u64 = 0, compat: u64 = 0, nr: u64 = 0, hasNr = false, fl: u64 = 0xffffffffffffffff, par: u64 = 0;
    while (cur < end) {
      const k = varint(base, end);
      if (bad) return result(1, 0, rows, 4);
      const f = <i32>(k >> 3), w = <i32>(k & 7);
      if (f >= 1 && f <= 5) {
        if (w != 0) return result(1, 0, rows, 4);
        const v = varint(base, end);
        if (bad) return result(1, 0, rows, 4);
        if (first) { if (f == 1) pagesId = v; }
        else if (f == 1) va = v; else if (f == 2) compat = v; else if (f == 3) par = v;
        else if (f == 4) fl = v; else { nr = v; hasNr = true; }
      } else if (!skip(base, end, w)) return result(1, 0, rows, 4);
    }
    if (cur != end) return result(1, 0, rows, 4);
    if (!first) { rows.push(va); rows.push(hasNr ? nr : compat); rows.push(fl); rows.push(par); }
    first = false;
    p = end;
  }
  if (first) return result(1, 0, rows, 4); // no head
  return result(0, pagesId, rows, 4);
}
