// LZ4 block format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md):
// a greedy single-pass compressor (hash of 5 bytes, 2048-entry position table,
// accelerating skip on incompressible data) and a bounds-checked decompressor.
// Exports are prefixed lz4_. Pointers are byte addresses in this module's memory.

// 2048 entries (8 KiB): measured on a python3 heap, 20-25% faster than 4096 (16 KiB, liblz4's
// default) for 1% more bytes; with its 256 KiB input block and the output, a 16 KiB table no
// longer stays in a 48 KiB L1 cache. 1024 entries is no faster and compresses less.
const HASH_LOG: u32 = 11;
const MINMATCH: usize = 4;
const MFLIMIT: usize = 12;
const LASTLITERALS: usize = 5;
const MAX_DISTANCE: usize = 65535;
const MAX_INPUT: usize = 0x7E000000;

// Positions are stored as `base + (p - src)`; every call gets a fresh base more than
// MAX_DISTANCE above all values of earlier calls (and above the table's initial zeroes), so
// the table never needs clearing between calls and one distance check rejects stale entries.
// (variables, as the level 2 tables below: core-mt.wasm's instances share one memory, and
// each gives its own scratch area; lz4_use_scratch)
let table: usize = heap.alloc(4 << HASH_LOG);
memory.fill(table, 0, 4 << HASH_LOG);
const BASE_GAP: u32 = <u32>MAX_DISTANCE + 2;
let nextBase: u32 = BASE_GAP;

@inline function hash5(p: usize): usize {
  return <usize>(((load<u64>(p) << 24) * 889523592379) >> (64 - HASH_LOG)) << 2;
}

/** Worst-case compressed size of `len` input bytes. */
export function lz4_bound_raw(len: usize): usize {
  return len + len / 255 + 16;
}

export function lz4_bound(len: i32): i32 {
  return <i32>lz4_bound_raw(<usize>len);
}

@inline function putLength(op: usize, n: usize): usize {
  while (n >= 255) { store<u8>(op, 255); op++; n -= 255; }
  store<u8>(op, <u8>n);
  return op + 1;
}

/**
 * Compress len bytes at src into dst (capacity cap >= lz4_bound_raw(len)); returns the size, or -1.
 * accel >= 1 is LZ4's acceleration (as in LZ4_compress_fast / `lz4 --fast=N`): the match search
 * starts with steps of accel bytes, which is faster and compresses less; the output is the same
 * LZ4 block format.
 */
export function lz4_compress_raw(src: usize, len: usize, dst: usize, cap: usize, accel: usize = 1): isize {
  if (len > MAX_INPUT || cap < lz4_bound_raw(len)) return -1;
  if (<u64>nextBase + <u64>len + <u64>BASE_GAP >= 0xFFFF0000) {
    memory.fill(table, 0, 4 << HASH_LOG);
    nextBase = BASE_GAP;
  }
  const base = nextBase;
  nextBase += <u32>len + BASE_GAP;
  const tbl = table;
  const bias = base - <u32>src;   // table value of position p: <u32>p + bias

  const end = src + len;
  const dend = dst + cap;
  let op = dst;
  let anchor = src;

  if (len >= MFLIMIT + 1) {
    const mflimit = end - MFLIMIT;
    const matchlimit = end - LASTLITERALS;
    let ip = src;
    store<u32>(tbl + hash5(ip), base);
    ip++;
    let fh = hash5(ip);
    let done = false;
    while (!done) {
      // Search forward for a 4-byte match, skipping faster over data that does not match.
      let match: usize = 0;
      let step: usize = 1;
      let searchNb: usize = accel << 6;
      let fwd = ip;
      let found = false;
      while (true) {
        const h = fh;
        ip = fwd;
        fwd = ip + step;
        step = searchNb >> 6;
        searchNb++;
        if (fwd > mflimit + 1) break;
        const v = load<u32>(tbl + h);
        fh = hash5(fwd);
        const cur = <u32>ip + bias;
        store<u32>(tbl + h, cur);
        const dist = <usize>(cur - v);   // > MAX_DISTANCE for entries of earlier calls
        if (dist <= MAX_DISTANCE) {
          match = ip - dist;
          if (load<u32>(match) == load<u32>(ip)) { found = true; break; }
        }
      }
      if (!found) break;

      // Extend the match backwards over equal literals.
      while (ip > anchor && match > src && load<u8>(ip - 1) == load<u8>(match - 1)) { ip--; match--; }

      // Literals.
      const litLen = ip - anchor;
      let token = op++;
      if (litLen >= 15) {
        store<u8>(token, 0xF0);
        op = putLength(op, litLen - 15);
      } else {
        store<u8>(token, <u8>(litLen << 4));
      }
      if (op + litLen + 16 <= dend && ip + 16 <= end) {
        let i: usize = 0;
        do { v128.store(op + i, v128.load(anchor + i)); i += 16; } while (i < litLen);
      } else {
        memory.copy(op, anchor, litLen);
      }
      op += litLen;

      // Matches; after each, try the very next position before searching again.
      while (true) {
        store<u16>(op, <u16>(ip - match));
        op += 2;
        let mip = ip + MINMATCH;
        let mm = match + MINMATCH;
        let counted = false;
        while (mip + 8 <= matchlimit) {
          const d = load<u64>(mip) ^ load<u64>(mm);
          if (d) { mip += <usize>(ctz<u64>(d) >> 3); counted = true; break; }
          mip += 8; mm += 8;
        }
        if (!counted) {
          while (mip < matchlimit && load<u8>(mip) == load<u8>(mm)) { mip++; mm++; }
        }
        let ml = mip - ip - MINMATCH;
        ip = mip;
        if (ml >= 15) {
          store<u8>(token, load<u8>(token) | 15);
          op = putLength(op, ml - 15);
        } else {
          store<u8>(token, load<u8>(token) | <u8>ml);
        }
        anchor = ip;
        if (ip >= mflimit) { done = true; break; }
        store<u32>(tbl + hash5(ip - 2), <u32>(ip - 2) + bias);
        const h = hash5(ip);
        const v = load<u32>(tbl + h);
        const cur = <u32>ip + bias;
        store<u32>(tbl + h, cur);
        const dist = <usize>(cur - v);
        if (dist <= MAX_DISTANCE) {
          match = ip - dist;
          if (load<u32>(match) == load<u32>(ip)) {
            token = op++;
            store<u8>(token, 0);
            continue;
          }
        }
        break;
      }
      if (done) break;
      ip++;
      fh = hash5(ip);
    }
  }

  // Last literals.
  const lastLen = end - anchor;
  if (lastLen >= 15) {
    store<u8>(op++, 0xF0);
    op = putLength(op, lastLen - 15);
  } else {
    store<u8>(op++, <u8>(lastLen << 4));
  }
  memory.copy(op, anchor, lastLen);
  op += lastLen;
  return <isize>(op - dst);
}

// ---- level 2: hash chains + one-step lazy matching (better ratio, slower) --------

const HC_HASH_LOG: u32 = 15;
let hcHead: usize = heap.alloc(4 << HC_HASH_LOG);
memory.fill(hcHead, 0, 4 << HC_HASH_LOG);
let hcChain: usize = heap.alloc(2 << 16);
let hcNextBase: u32 = 1;
let hcBase: u32 = 0;
let hcSrc: usize = 0;
let hcNextIns: usize = 0;
let hcMatchPos: usize = 0;

@inline function hcHash(p: usize): usize {
  return <usize>((load<u32>(p) * <u32>2654435761) >> (32 - HC_HASH_LOG)) << 2;
}

/** Bytes of the scratch area lz4_use_scratch takes: both compressors' tables. */
export function lz4_scratch_bytes(): usize {
  return (4 << HASH_LOG) + (4 << HC_HASH_LOG) + (2 << 16);
}

/** Use the lz4_scratch_bytes() at p (zeroed here) for the compressors' tables, instead of this module's own. */
export function lz4_use_scratch(p: usize): void {
  table = p;
  hcHead = p + (4 << HASH_LOG);
  hcChain = hcHead + (4 << HC_HASH_LOG);
  memory.fill(p, 0, lz4_scratch_bytes());
  nextBase = BASE_GAP;
  hcNextBase = 1;
}

/** Insert every position before ip into the chains. */
@inline function hcInsert(ip: usize): void {
  let p = hcNextIns;
  while (p < ip) {
    const h = hcHash(p);
    const prev = load<u32>(hcHead + h);
    const off = <u32>(p - hcSrc);
    let delta: u32 = 0;
    if (prev >= hcBase) { delta = off - (prev - hcBase); if (delta > 65535) delta = 0; }
    store<u16>(hcChain + ((<usize>off & 0xFFFF) << 1), <u16>delta);
    store<u32>(hcHead + h, hcBase + off);
    p++;
  }
  hcNextIns = p;
}

/** Longest match for ip (length, 0 when < 4); its position goes to hcMatchPos. */
function hcFind(ip: usize, matchlimit: usize, attempts: i32): usize {
  hcInsert(ip);
  const v = load<u32>(hcHead + hcHash(ip));
  if (v < hcBase) return 0;
  let cand = hcSrc + <usize>(v - hcBase);
  let best: usize = 0;
  const first = load<u32>(ip);
  while (attempts-- > 0 && ip - cand <= MAX_DISTANCE) {
    if (load<u32>(cand) == first) {
      let a = ip + MINMATCH, b = cand + MINMATCH;
      while (a + 8 <= matchlimit) {
        const d = load<u64>(a) ^ load<u64>(b);
        if (d) { a += <usize>(ctz<u64>(d) >> 3); break; }
        a += 8; b += 8;
      }
      if (a + 8 > matchlimit) { while (a < matchlimit && load<u8>(a) == load<u8>(b)) { a++; b++; } }
      if (a > matchlimit) a = matchlimit;
      const len = a - ip;
      if (len > best) { best = len; hcMatchPos = cand; if (a >= matchlimit) break; }
    }
    const d = <usize>load<u16>(hcChain + (((cand - hcSrc) & 0xFFFF) << 1));
    if (d == 0 || cand - hcSrc < d) break;
    cand -= d;
  }
  return best >= MINMATCH ? best : 0;
}

@inline function emitSequence(op: usize, anchor: usize, litLen: usize, offset: usize, ml: usize): usize {
  const token = op++;
  let t: u32 = 0;
  if (litLen >= 15) { t = 0xF0; op = putLength(op, litLen - 15); } else t = <u32>litLen << 4;
  memory.copy(op, anchor, litLen);
  op += litLen;
  store<u16>(op, <u16>offset);
  op += 2;
  const m = ml - MINMATCH;
  if (m >= 15) { t |= 15; op = putLength(op, m - 15); } else t |= <u32>m;
  store<u8>(token, <u8>t);
  return op;
}

/** Level-2 compressor: same block format, chains of up to `attempts` candidates, lazy by one byte. */
export function lz4_compress_hc_raw(src: usize, len: usize, dst: usize, cap: usize, attempts: i32): isize {
  if (len > MAX_INPUT || cap < lz4_bound_raw(len)) return -1;
  if (<u64>hcNextBase + <u64>len + 1 >= 0xFFFF0000) {
    memory.fill(hcHead, 0, 4 << HC_HASH_LOG);
    hcNextBase = 1;
  }
  hcBase = hcNextBase;
  hcNextBase += <u32>len + 1;
  hcSrc = src;
  hcNextIns = src;
  const end = src + len;
  let op = dst;
  let anchor = src;
  if (len >= MFLIMIT + 1) {
    const mflimit = end - MFLIMIT;
    const matchlimit = end - LASTLITERALS;
    let ip = src;
    while (ip <= mflimit) {
      let ml = hcFind(ip, matchlimit, attempts);
      if (ml == 0) { ip++; continue; }
      let ref = hcMatchPos;
      if (ip + 1 <= mflimit) {
        const ml2 = hcFind(ip + 1, matchlimit, attempts);
        if (ml2 > ml) { ip++; ml = ml2; ref = hcMatchPos; }
      }
      op = emitSequence(op, anchor, ip - anchor, ip - ref, ml);
      ip += ml;
      anchor = ip;
    }
  }
  const lastLen = end - anchor;
  if (lastLen >= 15) { store<u8>(op++, 0xF0); op = putLength(op, lastLen - 15); } else store<u8>(op++, <u8>(lastLen << 4));
  memory.copy(op, anchor, lastLen);
  op += lastLen;
  return <isize>(op - dst);
}

export function lz4_compress_hc(src: usize, srcOff: usize, len: i32, dst: usize, dstOff: usize, cap: i32, attempts: i32): i32 {
  return <i32>lz4_compress_hc_raw(src + srcOff, <usize>len, dst + dstOff, <usize>cap, attempts);
}

/**
 * Decompress an LZ4 block of srcLen bytes at src into dst (capacity cap).
 * Returns the decompressed size, or -(1 + offset) of the first bad byte in src.
 */
export function lz4_decompress_raw(src: usize, srcLen: usize, dst: usize, cap: usize): isize {
  let ip = src;
  const end = src + srcLen;
  let op = dst;
  const oend = dst + cap;
  if (srcLen == 0) return -1;
  while (true) {
    // Fast path for the common short sequence (literals < 15, match < 19, offset >= 16)
    // when there is room: fixed-size SIMD copies, no length loops.
    if (ip + 20 <= end && op + 48 <= oend) {
      const t = <usize>load<u8>(ip);
      const ll = t >> 4;
      const m4 = t & 15;
      if (ll != 15 && m4 != 15) {
        const o = <usize>load<u16>(ip + 1 + ll);
        const mp = op + ll;
        if (o >= 16 && o <= mp - dst) {
          v128.store(op, v128.load(ip + 1));
          const from = mp - o;
          v128.store(mp, v128.load(from));
          v128.store(mp, v128.load(from, 16), 16);
          ip += 3 + ll;
          op = mp + m4 + MINMATCH;
          continue;
        }
      }
    }
    if (ip >= end) return -(<isize>(ip - src) + 1);
    const tokenAt = ip;
    const token = <usize>load<u8>(ip++);
    let litLen = token >> 4;
    if (litLen == 15) {
      let b: usize = 255;
      while (b == 255) {
        if (ip >= end) return -(<isize>(tokenAt - src) + 1);
        b = <usize>load<u8>(ip++);
        litLen += b;
      }
    }
    if (litLen > end - ip || litLen > oend - op) return -(<isize>(tokenAt - src) + 1);
    if (litLen <= 16 && ip + 16 <= end && op + 16 <= oend) {
      v128.store(op, v128.load(ip));
    } else if (ip + litLen + 16 <= end && op + litLen + 16 <= oend) {
      let i: usize = 0;
      do { v128.store(op + i, v128.load(ip + i)); i += 16; } while (i < litLen);
    } else {
      memory.copy(op, ip, litLen);
    }
    ip += litLen;
    op += litLen;
    if (ip == end) break; // the last sequence has literals only
    if (end - ip < 2) return -(<isize>(ip - src) + 1);
    const offAt = ip;
    const offset = <usize>load<u16>(ip);
    ip += 2;
    if (offset == 0 || offset > op - dst) return -(<isize>(offAt - src) + 1);
    let ml = token & 15;
    if (ml == 15) {
      let b: usize = 255;
      while (b == 255) {
        if (ip >= end) return -(<isize>(offAt - src) + 1);
        b = <usize>load<u8>(ip++);
        ml += b;
      }
    }
    ml += MINMATCH;
    if (ml > oend - op) return -(<isize>(offAt - src) + 1);
    const match = op - offset;
    if (offset >= 16 && ml <= 32 && op + 32 <= oend) {
      v128.store(op, v128.load(match));
      v128.store(op, v128.load(match, 16), 16);
    } else if (offset >= 16 && op + ml + 16 <= oend) {
      let i: usize = 0;
      do { v128.store(op + i, v128.load(match + i)); i += 16; } while (i < ml);
    } else if (offset >= 8 && op + ml + 8 <= oend) {
      let i: usize = 0;
      do { store<u64>(op + i, load<u64>(match + i)); i += 8; } while (i < ml);
    } else if (offset >= ml) {
      memory.copy(op, match, ml);
    } else if (offset == 1) {
      memory.fill(op, load<u8>(match), ml);
    } else {
      // Overlapping copy: the pattern repeats with period `offset`; copy in growing chunks.
      let done: usize = 0;
      while (done < ml) {
        let chunk = op + done - match;
        if (chunk > ml - done) chunk = ml - done;
        memory.copy(op + done, match, chunk);
        done += chunk;
      }
    }
    op += ml;
  }
  return <isize>(op - dst);
}

export function lz4_compress(src: usize, srcOff: usize, len: i32, dst: usize, dstOff: usize, cap: i32): i32 {
  return <i32>lz4_compress_raw(src + srcOff, <usize>len, dst + dstOff, <usize>cap);
}

export function lz4_decompress(src: usize, srcOff: usize, len: i32, dst: usize, dstOff: usize, cap: i32): i32 {
  return <i32>lz4_decompress_raw(src + srcOff, <usize>len, dst + dstOff, <usize>cap);
}
