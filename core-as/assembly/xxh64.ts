// xxh64 (XXH64, seed-able), one-shot and streaming, plus a batch page hasher
// with SIMD zero-page detection. Exports are prefixed xxh_.
// All pointer arguments are byte addresses in this module's memory (the host
// passes the pointer of a pinned ArrayBuffer plus an offset).

const P1: u64 = 0x9E3779B185EBCA87;
const P2: u64 = 0xC2B2AE3D27D4EB4F;
const P3: u64 = 0x165667B19E3779F9;
const P4: u64 = 0x85EBCA77C2B2AE63;
const P5: u64 = 0x27D4EB2F165667C5;

@inline function accRound(acc: u64, lane: u64): u64 {
  acc += lane * P2;
  acc = rotl<u64>(acc, 31);
  return acc * P1;
}

@inline function accMerge(h: u64, v: u64): u64 {
  h ^= accRound(0, v);
  return h * P1 + P4;
}

@inline function avalanche(h: u64): u64 {
  h ^= h >> 33; h *= P2;
  h ^= h >> 29; h *= P3;
  h ^= h >> 32;
  return h;
}

// Tail: the last < 32 bytes, after the lanes were folded into h.
@inline function tail(h: u64, p: usize, end: usize): u64 {
  while (p + 8 <= end) {
    h ^= accRound(0, load<u64>(p));
    h = rotl<u64>(h, 27) * P1 + P4;
    p += 8;
  }
  if (p + 4 <= end) {
    h ^= (<u64>load<u32>(p)) * P1;
    h = rotl<u64>(h, 23) * P2 + P3;
    p += 4;
  }
  while (p < end) {
    h ^= (<u64>load<u8>(p)) * P5;
    h = rotl<u64>(h, 11) * P1;
    p++;
  }
  return avalanche(h);
}

/** XXH64 of len bytes at p. */
export function xxh_raw(p: usize, len: usize, seed: u64): u64 {
  const end = p + len;
  let h: u64;
  if (len >= 32) {
    let v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    const limit = end - 32;
    do {
      v1 = accRound(v1, load<u64>(p));
      v2 = accRound(v2, load<u64>(p, 8));
      v3 = accRound(v3, load<u64>(p, 16));
      v4 = accRound(v4, load<u64>(p, 24));
      p += 32;
    } while (p <= limit);
    h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
    h = accMerge(h, v1); h = accMerge(h, v2); h = accMerge(h, v3); h = accMerge(h, v4);
  } else {
    h = seed + P5;
  }
  h += <u64>len;
  return tail(h, p, end);
}

/** XXH64 of `len` bytes at `ptr + off` (ptr from passBytes/allocBytes). */
export function xxh_hash64(ptr: usize, off: usize, len: usize, seed: u64): u64 {
  return xxh_raw(ptr + off, len, seed);
}

// ---- streaming -------------------------------------------------------------

class XxhState {
  v1: u64; v2: u64; v3: u64; v4: u64;
  total: u64 = 0;
  seed: u64;
  buf: usize = heap.alloc(32);
  bufLen: usize = 0;
  constructor(seed: u64) {
    this.seed = seed;
    this.v1 = seed + P1 + P2; this.v2 = seed + P2; this.v3 = seed; this.v4 = seed - P1;
  }
}

const states = new Array<XxhState | null>();

/** Start a streaming hash; returns a handle for xxh_update/xxh_digest/xxh_free. */
export function xxh_new(seed: u64): i32 {
  const s = new XxhState(seed);
  for (let i = 0; i < states.length; i++) {
    if (states[i] === null) { states[i] = s; return i; }
  }
  states.push(s);
  return states.length - 1;
}

function stateOf(h: i32): XxhState {
  if (h < 0 || h >= states.length) abort('xxh: bad stream handle');
  const s = states[h];
  if (s === null) abort('xxh: stream already freed');
  return s!;
}

export function xxh_update_raw(handle: i32, p: usize, len: usize): void {
  const s = stateOf(handle);
  s.total += <u64>len;
  const end = p + len;
  if (s.bufLen + len < 32) {
    memory.copy(s.buf + s.bufLen, p, len);
    s.bufLen += len;
    return;
  }
  let v1 = s.v1, v2 = s.v2, v3 = s.v3, v4 = s.v4;
  if (s.bufLen) {
    const fill: usize = 32 - s.bufLen;
    memory.copy(s.buf + s.bufLen, p, fill);
    p += fill;
    const b = s.buf;
    v1 = accRound(v1, load<u64>(b)); v2 = accRound(v2, load<u64>(b, 8));
    v3 = accRound(v3, load<u64>(b, 16)); v4 = accRound(v4, load<u64>(b, 24));
    s.bufLen = 0;
  }
  while (p + 32 <= end) {
    v1 = accRound(v1, load<u64>(p));
    v2 = accRound(v2, load<u64>(p, 8));
    v3 = accRound(v3, load<u64>(p, 16));
    v4 = accRound(v4, load<u64>(p, 24));
    p += 32;
  }
  s.v1 = v1; s.v2 = v2; s.v3 = v3; s.v4 = v4;
  if (p < end) { memory.copy(s.buf, p, end - p); s.bufLen = end - p; }
}

export function xxh_update(handle: i32, ptr: usize, off: usize, len: usize): void {
  xxh_update_raw(handle, ptr + off, len);
}

/** The hash of everything fed so far (the stream stays usable). */
export function xxh_digest(handle: i32): u64 {
  const s = stateOf(handle);
  let h: u64;
  if (s.total >= 32) {
    const v1 = s.v1, v2 = s.v2, v3 = s.v3, v4 = s.v4;
    h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
    h = accMerge(h, v1); h = accMerge(h, v2); h = accMerge(h, v3); h = accMerge(h, v4);
  } else {
    h = s.seed + P5;
  }
  h += s.total;
  return tail(h, s.buf, s.buf + s.bufLen);
}

export function xxh_free(handle: i32): void {
  const s = stateOf(handle);
  heap.free(s.buf);
  states[handle] = null;
}

// ---- pages -----------------------------------------------------------------

/** True when the 4096 bytes at p are all zero (SIMD, 64 bytes per step). */
export function xxh_is_zero_page(p: usize): bool {
  const end = p + 4096;
  while (p < end) {
    const a = v128.or(v128.load(p), v128.load(p, 16));
    const b = v128.or(v128.load(p, 32), v128.load(p, 48));
    if (v128.any_true(v128.or(a, b))) return false;
    p += 64;
  }
  return true;
}

/**
 * Hash n 4 KiB pages at ptr+off: writes the u64 hash of each page to
 * outHashes (n * 8 bytes) and 1 (zero page) or 0 to outZero (n bytes).
 * Zero pages get hash 0 in outHashes, but outZero is the authority.
 * Returns the number of zero pages.
 */
export function xxh_pages(ptr: usize, off: usize, n: i32, outHashes: usize, outZero: usize): i32 {
  let zeros = 0;
  let p = ptr + off;
  for (let i = 0; i < n; i++) {
    if (xxh_is_zero_page(p)) {
      store<u64>(outHashes + (<usize>i << 3), 0);
      store<u8>(outZero + <usize>i, 1);
      zeros++;
    } else {
      store<u64>(outHashes + (<usize>i << 3), xxh_raw(p, 4096, 0));
      store<u8>(outZero + <usize>i, 0);
    }
    p += 4096;
  }
  return zeros;
}
