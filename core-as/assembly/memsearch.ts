// Memory search in dumped pages (issue 6). Exports are prefixed mem_*.

/**
 * Find every occurrence of needle [nptr, nptr+nlen) in haystack [hptr, hptr+hlen).
 * Writes up to maxHits u32 offsets to out; returns the total number of hits
 * (which may exceed maxHits; only the first maxHits are written).
 */
export function mem_find(hptr: usize, hlen: i32, nptr: usize, nlen: i32, out: usize, maxHits: i32): i32 {
  if (nlen <= 0 || nlen > hlen) return 0;
  const first = load<u8>(nptr);
  const last = hlen - nlen;
  let hits = 0;
  const splat = i8x16.splat(<i8>first);
  let i = 0;
  while (i <= last) {
    // skip 16 bytes at a time while none of them is the first needle byte
    if (i + 16 <= hlen) {
      const m = i8x16.bitmask(i8x16.eq(v128.load(hptr + <usize>i), splat));
      if (m == 0) { i += 16; continue; }
      i += ctz<i32>(m);
      if (i > last) break;
    } else if (load<u8>(hptr + <usize>i) != first) { i++; continue; }
    if (memory.compare(hptr + <usize>i, nptr, <usize>nlen) == 0) {
      if (hits < maxHits) store<u32>(out + (<usize>hits << 2), <u32>i);
      hits++;
    }
    i++;
  }
  return hits;
}
