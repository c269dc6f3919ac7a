// Archive blocks (see docs/archive.md): every data block of a tscr archive is
//   header (32 bytes, little endian)
//     0  u32  magic 'TBLK' (0x4B4C4254)
//     4  u8   codec: 0 = stored, 1 = LZ4 block
//     5  u8   flags: bit 0 = page-hashed (below)
//     6  u8[2] zero
//     8  u32  raw length
//     12 u32  stored (payload) length
//     16 u64  xxh64 of the payload as stored
//     24 u64  xxh64 of the raw (decompressed) bytes; for a page-hashed block (raw length a
//             multiple of 4096, at most PH_MAX_PAGES pages), xxh64 of the sequence of its
//             pages' u64 xxh64s instead: the page writer has those hashes already (it
//             dedups by them), so it need not hash every raw byte a second time
//   payload (stored length bytes)
// Exports are prefixed arc_.
import { xxh_raw } from './xxh64';
import { lz4_bound_raw, lz4_compress_raw, lz4_compress_hc_raw, lz4_decompress_raw } from './lz4';

const BLOCK_MAGIC: u32 = 0x4B4C4254;
const BLOCK_HEADER: usize = 32;
const CODEC_STORED: u8 = 0;
const CODEC_LZ4: u8 = 1;
const FLAG_PAGE_HASHED: u32 = 1;
const PAGE: usize = 4096;
/** Most pages a page-hashed block may hold (the archive's page blocks hold 64). */
const PH_MAX_PAGES: usize = 64;

/** Room a packed block of rawLen bytes may need. */
export function arc_pack_bound(rawLen: i32): i32 {
  return <i32>(BLOCK_HEADER + lz4_bound_raw(<usize>rawLen));
}

/**
 * Pack rawLen bytes at src+srcOff into a block at dst+dstOff (capacity cap >= arc_pack_bound).
 * level 0 stores, 1 = fast LZ4, 2 = LZ4 with hash chains (4 candidates, lazy), 3 = 64 candidates,
 * -N = fast LZ4 with acceleration N (like `lz4 --fast=N`: faster, compresses less);
 * the block is stored anyway when LZ4 does not shrink it.
 * pageHashes: 0, or the address of the u64 xxh64 (seed 0) of each 4 KiB page of the raw bytes,
 * which the caller vouches for; the block is then page-hashed (rawLen must be a multiple of
 * 4096, at most PH_MAX_PAGES pages).
 * Returns the total block size (header + payload), or -1 when cap is too small (-2: bad rawLen).
 */
export function arc_pack(src: usize, srcOff: usize, rawLen: i32, dst: usize, dstOff: usize, cap: i32, level: i32, pageHashes: usize): i32 {
  const s = src + srcOff;
  const d = dst + dstOff;
  const n = <usize>rawLen;
  if (<usize>cap < BLOCK_HEADER + lz4_bound_raw(n)) return -1;
  if (pageHashes && (n & (PAGE - 1) || n > PH_MAX_PAGES * PAGE)) return -2;
  let codec = CODEC_STORED;
  let stored = n;
  if (level != 0) {
    const c = level >= 2
      ? lz4_compress_hc_raw(s, n, d + BLOCK_HEADER, <usize>cap - BLOCK_HEADER, level >= 3 ? 64 : 4)
      : lz4_compress_raw(s, n, d + BLOCK_HEADER, <usize>cap - BLOCK_HEADER, level < 0 ? <usize>(-level) : 1);
    if (c >= 0 && <usize>c < n) { codec = CODEC_LZ4; stored = <usize>c; }
  }
  if (codec == CODEC_STORED) memory.copy(d + BLOCK_HEADER, s, n);
  store<u32>(d, BLOCK_MAGIC);
  store<u32>(d, <u32>codec | (pageHashes ? FLAG_PAGE_HASHED << 8 : 0), 4);
  store<u32>(d, <u32>n, 8);
  store<u32>(d, <u32>stored, 12);
  const rawHash = pageHashes ? xxh_raw(pageHashes, (n / PAGE) << 3, 0) : xxh_raw(s, n, 0);
  // a stored block's payload is its raw bytes: one hash serves both fields (not when page-hashed)
  store<u64>(d, codec == CODEC_STORED && !pageHashes ? rawHash : xxh_raw(d + BLOCK_HEADER, stored, 0), 16);
  store<u64>(d, rawHash, 24);
  return <i32>(BLOCK_HEADER + stored);
}

/** The raw hash of a page-hashed block of n bytes at p (n checked by the caller). */
function pageHashedRaw(p: usize, n: usize): u64 {
  const ph = memory.data(<i32>(PH_MAX_PAGES << 3), 16);
  const pages = n / PAGE;
  for (let i: usize = 0; i < pages; i++) store<u64>(ph + (i << 3), xxh_raw(p + i * PAGE, PAGE, 0));
  return xxh_raw(ph, pages << 3, 0);
}

// Error codes of arc_unpack (negative returns).
const ERR_MAGIC: i32 = -1;      // header magic is wrong
const ERR_CODEC: i32 = -2;      // unknown codec or nonzero reserved bytes
const ERR_LENGTH: i32 = -3;     // lengths do not fit the input or the output room
const ERR_PAYLOAD: i32 = -4;    // payload hash mismatch
const ERR_DECODE: i32 = -5;     // LZ4 payload malformed
const ERR_RAW: i32 = -6;        // decoded bytes hash mismatch

let lastDetail: i32 = 0;

/** Detail of the last arc_unpack error (for ERR_DECODE: offset inside the payload). */
export function arc_last_detail(): i32 { return lastDetail; }

/**
 * Verify and unpack the block of blockLen bytes at src+srcOff into dst+dstOff (capacity cap).
 * Returns the raw length, or a negative ERR_* code; nothing is trusted before its hash checks.
 */
export function arc_unpack(src: usize, srcOff: usize, blockLen: i32, dst: usize, dstOff: usize, cap: i32): i32 {
  const s = src + srcOff;
  const d = dst + dstOff;
  lastDetail = 0;
  if (<usize>blockLen < BLOCK_HEADER) return ERR_LENGTH;
  if (load<u32>(s) != BLOCK_MAGIC) return ERR_MAGIC;
  const codecWord = load<u32>(s, 4);
  if ((codecWord & ~(FLAG_PAGE_HASHED << 8)) > 1) return ERR_CODEC;
  const pageHashed = (codecWord >> 8) != 0;
  const rawLen = <usize>load<u32>(s, 8);
  const stored = <usize>load<u32>(s, 12);
  if (stored != <usize>blockLen - BLOCK_HEADER || rawLen > <usize>cap) return ERR_LENGTH;
  if (xxh_raw(s + BLOCK_HEADER, stored, 0) != load<u64>(s, 16)) return ERR_PAYLOAD;
  if (pageHashed && (rawLen & (PAGE - 1) || rawLen > PH_MAX_PAGES * PAGE)) return ERR_LENGTH;
  if ((codecWord & 0xff) == 0) {
    if (stored != rawLen) return ERR_LENGTH;
    memory.copy(d, s + BLOCK_HEADER, rawLen);
  } else {
    const r = lz4_decompress_raw(s + BLOCK_HEADER, stored, d, rawLen);
    if (r < 0) { lastDetail = <i32>(-r - 1); return ERR_DECODE; }
    if (<usize>r != rawLen) return ERR_LENGTH;
  }
  if ((pageHashed ? pageHashedRaw(d, rawLen) : xxh_raw(d, rawLen, 0)) != load<u64>(s, 24)) return ERR_RAW;
  return <i32>rawLen;
}
