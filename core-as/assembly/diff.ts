// Checkpoint diff primitives (issue 6). Exports are prefixed diff_*.
// Pages are compared by their XXH64 hashes, not byte by byte: hashing streams
// through Wasm memory once per checkpoint, then only 8-byte hashes are matched.
// Page hashes come from xxh64.ts (xxh_pages); this module matches them.

// Change kinds written by diff_match.
const D_CHANGED: u64 = 1;
const D_ADDED: u64 = 2;
const D_REMOVED: u64 = 3;

/**
 * Merge-join two page lists sorted by address: a = na x (u64 addr, u64 hash),
 * b likewise. Writes (u64 addr, u64 kind) rows to out (room for na+nb rows) for
 * pages changed (both present, hashes differ), added (only in b) or removed
 * (only in a). Returns the number of rows. Unsorted input is the caller's bug.
 */
export function diff_match(a: usize, na: i32, b: usize, nb: i32, out: usize): i32 {
  let i = 0, j = 0, n = 0;
  while (i < na || j < nb) {
    const aa: u64 = i < na ? load<u64>(a + (<usize>i << 4)) : u64.MAX_VALUE;
    const ba: u64 = j < nb ? load<u64>(b + (<usize>j << 4)) : u64.MAX_VALUE;
    let kind: u64 = 0;
    let addr: u64 = 0;
    if (i < na && j < nb && aa == ba) {
      if (load<u64>(a + (<usize>i << 4), 8) != load<u64>(b + (<usize>j << 4), 8)) { kind = D_CHANGED; addr = aa; }
      i++; j++;
    } else if (j >= nb || (i < na && aa < ba)) {
      kind = D_REMOVED; addr = aa; i++;
    } else {
      kind = D_ADDED; addr = ba; j++;
    }
    if (kind) {
      store<u64>(out + (<usize>n << 4), addr);
      store<u64>(out + (<usize>n << 4), kind, 8);
      n++;
    }
  }
  return n;
}
