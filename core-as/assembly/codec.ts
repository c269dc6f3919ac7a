// tscr image codec: CRIU image entries <-> crit JSON, driven by the schema
// descriptor that the host builds once from core-as/schema (codec_init).
//
// File grammar (all integers little-endian):
//   image      := header body
//   header     := INVENTORY_MAGIC                      (inventory.img only)
//               | IMG_SERVICE_MAGIC kind_magic         (stats-*, irmap-cache)
//               | IMG_COMMON_MAGIC kind_magic          (every other kind)
//   body       := entry*                               (layout "entries")
//               | entry(pagemap_head) entry(pagemap_entry)*           (pagemap)
//               | entry(ghost_file_entry) raw_to_eof                  (ghost, chunks unset)
//               | entry(ghost_file_entry) (entry(ghost_chunk) bytes[len])*  (ghost, chunks set)
//   entry      := u32 size, protobuf message[size], extra?
//   extra      := bytes sized by fields of the entry just read
//                 (pipes/fifo data: bytes; sk-queues: length; tcp-stream: inq_len then
//                  outq_len; bpfmap-data: keys_bytes+values_bytes; ipc shm: size padded
//                  to 4; ipc sem: nsems u16 padded to 8; ipc msg: qnum x (entry + msize
//                  padded to 8))
//   raw files  := no magic at all (pages-*.img, ifaddr, route, iptables, tmpfs tarballs):
//                 never decoded here; page data stays apart from pagemap metadata.
// Input buffers cross as raw addresses (usize), never as ArrayBuffer parameters: the
// host pins the buffer and may pass an address inside it, which the GC's shadow stack
// must never see as an object.
// The host reads the header and feeds whole entries in chunks (codec_decode); the
// core never needs the whole file, so Wasm memory does not bound image size.
// JSON follows crit: Python json.dump layout (indent 4 with --pretty, else one line
// with ", " and ": "), ensure_ascii escapes, base64 with a newline every 76 chars,
// fields in field-number order, display hints applied only with --pretty.
// Unknown fields are kept under "_unknown" (base64 of their raw bytes) and written
// back after the known ones; encoding is canonical (field-number order, like protobuf-c).

// ---------------------------------------------------------------- descriptor

import { SCHEMA_PTR, SCHEMA_LEN } from './codec_schema.gen';

const T_DOUBLE: u8 = 1, T_FLOAT: u8 = 2, T_INT64: u8 = 3, T_UINT64: u8 = 4, T_INT32: u8 = 5,
  T_FIXED64: u8 = 6, T_FIXED32: u8 = 7, T_BOOL: u8 = 8, T_STRING: u8 = 9, T_MESSAGE: u8 = 11,
  T_BYTES: u8 = 12, T_UINT32: u8 = 13, T_ENUM: u8 = 14, T_SFIXED32: u8 = 15, T_SFIXED64: u8 = 16,
  T_SINT32: u8 = 17, T_SINT64: u8 = 18;
const L_REP: u8 = 2;
const H_HEX: u32 = 1, H_IP: u32 = 2, H_DEV: u32 = 4, H_ODEV: u32 = 8, H_UNIX: u32 = 16, H_PACKED: u32 = 32;

// error codes shared with the host (core-as/host side maps them to ErrorCode)
export const ERR_TRUNCATED = 1, ERR_BAD_VARINT = 2, ERR_BAD_LENGTH = 3, ERR_BAD_WIRE = 4,
  ERR_TOO_LARGE = 5, ERR_BAD_JSON = 6, ERR_CORRUPT = 7;

class VMap {
  kind: u32 = 0; // 0 enum, 1 dict, 2 flags
  vals: StaticArray<i64> = new StaticArray<i64>(0);
  names: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(0);
  allBits: u64 = 0;
}

class Field {
  num: u32 = 0;
  type: u8 = 0;
  label: u8 = 0;
  hints: u32 = 0;
  sub: i32 = -1;    // message index or value map index (enum)
  flags: i32 = -1;  // value map index of flags table
  dict: i32 = -1;   // value map index of dict table
  name: ArrayBuffer = new ArrayBuffer(0);  // raw name
  key: ArrayBuffer = new ArrayBuffer(0);   // "name": 
  ckey: ArrayBuffer = new ArrayBuffer(0);  // , "name":   (compact layout, not first)
  plain: bool = false; // unsigned varint with no display hints: digits either way
  unsigned: bool = false; // uint32/uint64: digits whenever hints are off (compact mode)
}

class Msg {
  fastOk: bool = true; // no repeated messages: canonical bytes can be emitted in one pass
  name: ArrayBuffer = new ArrayBuffer(0);
  fields: StaticArray<Field> = new StaticArray<Field>(0);
  byNum: StaticArray<i32> = new StaticArray<i32>(0);
}

class Kind {
  name: ArrayBuffer = new ArrayBuffer(0);
  magic: u32 = 0;
  prefix: u32 = 0;  // 0 none, 1 common, 2 service
  layout: u32 = 0;  // 0 entries, 1 pagemap, 2 ghost, 3 raw
  msg: i32 = -1;
  msg2: i32 = -1;   // pagemap entry / ghost chunk / ipc_msg
  extra: u32 = 0;   // 0 none, 1 bytes, 2 tcp, 3 bpf, 4 sem, 5 shm, 6 msg
  ef1: u32 = 0;     // field numbers the extra size comes from
  ef2: u32 = 0;
}

let kinds: StaticArray<Kind> = new StaticArray<Kind>(0);

let dp: usize = 0;
@inline function du32(): u32 { const v = load<u32>(dp); dp += 4; return v; }
function dstr(): ArrayBuffer {
  const n = du32();
  const b = new ArrayBuffer(<i32>n);
  memory.copy(changetype<usize>(b), dp, n);
  dp += (n + 3) & ~3;
  return b;
}

function keyOf(name: ArrayBuffer): ArrayBuffer {
  const n = name.byteLength;
  const b = new ArrayBuffer(n + 4);
  const p = changetype<usize>(b);
  store<u8>(p, 0x22);
  memory.copy(p + 1, changetype<usize>(name), n);
  store<u8>(p + 1 + n, 0x22); store<u8>(p + 2 + n, 0x3a); store<u8>(p + 3 + n, 0x20);
  return b;
}

// Messages and value maps are parsed from the descriptor lazily, on first use, so
// start-up costs only an index pass (a small decode touches a handful of messages).
let descPtr: usize = 0;
let mapOff: StaticArray<u32> = new StaticArray<u32>(0);
let msgOff: StaticArray<u32> = new StaticArray<u32>(0);
let mapCache: StaticArray<VMap | null> = new StaticArray<VMap | null>(0);
let msgCache: StaticArray<Msg | null> = new StaticArray<Msg | null>(0);

@inline function dskip(): void { const n = du32(); dp += (n + 3) & ~3; }

function getMap(i: i32): VMap {
  const c = unchecked(mapCache[i]);
  if (c) return c;
  dp = descPtr + <usize>mapOff[i];
  const m = new VMap();
  m.kind = du32();
  const n = du32();
  m.vals = new StaticArray<i64>(n);
  m.names = new StaticArray<ArrayBuffer>(n);
  for (let j: u32 = 0; j < n; j++) {
    const v = <i64><i32>du32();
    m.vals[j] = m.kind == 2 ? <i64><u32>v : v;
    m.allBits |= m.kind == 2 ? <u64><u32>v : 0;
    m.names[j] = dstr();
  }
  mapCache[i] = m;
  return m;
}

function getMsg(i: i32): Msg {
  const c = unchecked(msgCache[i]);
  if (c) return c;
  dp = descPtr + <usize>msgOff[i];
  const m = new Msg();
  m.name = dstr();
  const nf = du32();
  m.fields = new StaticArray<Field>(nf);
  let maxNum: u32 = 0;
  for (let j: u32 = 0; j < nf; j++) {
    const f = new Field();
    f.num = du32(); f.type = <u8>du32(); f.label = <u8>du32(); f.hints = du32();
    f.sub = <i32>du32(); f.flags = <i32>du32(); f.dict = <i32>du32();
    f.name = dstr(); f.key = keyOf(f.name);
    const kl = f.key.byteLength;
    f.ckey = new ArrayBuffer(kl + 2);
    store<u8>(changetype<usize>(f.ckey), 0x2c); store<u8>(changetype<usize>(f.ckey), 0x20, 1);
    memory.copy(changetype<usize>(f.ckey) + 2, changetype<usize>(f.key), kl);
    f.unsigned = f.type == T_UINT32 || f.type == T_UINT64;
    f.plain = f.unsigned && f.hints == 0 && f.flags < 0 && f.dict < 0;
    if (f.num > maxNum) maxNum = f.num;
    // repeated scalars (pagemap's criu-dev compressed_size) are usually absent: emitFast
    // bails out to the generic path when one occurs; repeated messages are common (mm's
    // vmas), so messages with them go straight to the generic path
    if (f.label == L_REP && f.type == T_MESSAGE) m.fastOk = false;
    m.fields[j] = f;
  }
  if (maxNum > 4096) maxNum = 4096;
  m.byNum = new StaticArray<i32>(maxNum + 1);
  for (let k: u32 = 0; k <= maxNum; k++) m.byNum[k] = -1;
  for (let j: u32 = 0; j < nf; j++) if (m.fields[j].num <= maxNum) m.byNum[m.fields[j].num] = j;
  msgCache[i] = m;
  return m;
}

/**
 * Load a schema descriptor (core-as/schema/descriptor.ts). The bytes must stay
 * in Wasm memory (the build embeds one: codec_init_builtin()).
 */
export function codec_init(desc: usize): i32 {
  descPtr = desc;
  flatMsg = -2; // the flat path's table belongs to the old descriptor's messages
  dp = desc;
  if (du32() != 0x44435354) return -1; // 'TSCD'
  du32(); // version
  const nm = du32();
  mapOff = new StaticArray<u32>(nm);
  mapCache = new StaticArray<VMap | null>(nm);
  for (let i: u32 = 0; i < nm; i++) {
    mapOff[i] = <u32>(dp - desc);
    du32();
    const n = du32();
    for (let j: u32 = 0; j < n; j++) { du32(); dskip(); }
  }
  const nmsg = du32();
  msgOff = new StaticArray<u32>(nmsg);
  msgCache = new StaticArray<Msg | null>(nmsg);
  for (let i: u32 = 0; i < nmsg; i++) {
    msgOff[i] = <u32>(dp - desc);
    dskip();
    const nf = du32();
    for (let j: u32 = 0; j < nf; j++) { dp += 28; dskip(); }
  }
  const nk = du32();
  kinds = new StaticArray<Kind>(nk);
  for (let i: u32 = 0; i < nk; i++) {
    const k = new Kind();
    k.name = dstr(); k.magic = du32(); k.prefix = du32(); k.layout = du32();
    k.msg = <i32>du32(); k.msg2 = <i32>du32(); k.extra = du32(); k.ef1 = du32(); k.ef2 = du32();
    kinds[i] = k;
  }
  return <i32>nk;
}

/** The descriptor embedded at build time (codec_schema.gen.ts), or -1 if none. */
export function codec_init_builtin(): i32 {
  if (SCHEMA_LEN == 0) return -1;
  return codec_init(SCHEMA_PTR);
}

// ---------------------------------------------------------------- output buffer

let outPtr: usize = 0;
let outLen: usize = 0;
let outCap: usize = 0;

function grow(n: usize): void {
  let cap = outCap < 65536 ? <usize>65536 : outCap;
  while (cap < outLen + n) cap <<= 1;
  outPtr = outPtr ? heap.realloc(outPtr, cap) : heap.alloc(cap);
  outCap = cap;
}
@inline function ensure(n: usize): void { if (outLen + n > outCap) grow(n); }
@inline function put(b: u32): void { ensure(1); store<u8>(outPtr + outLen, <u8>b); outLen++; }
@inline function putBytes(p: usize, n: usize): void { ensure(n); memory.copy(outPtr + outLen, p, n); outLen += n; }
@inline function putBuf(b: ArrayBuffer): void {
  const n = <usize>b.byteLength;
  if (n <= 32) {
    // short keys: word copies (the source is padded by the allocator; reading past is safe
    // within its 16-byte aligned block, and we reserve 32 bytes of output)
    ensure(40);
    const d = outPtr + outLen; const sp = changetype<usize>(b);
    for (let i: usize = 0; i < n; i += 8) store<u64>(d + i, load<u64>(sp + i));
    outLen += n;
  } else putBytes(changetype<usize>(b), n);
}
function putAscii(s: string): void {
  const n = s.length;
  ensure(n);
  for (let i = 0; i < n; i++) store<u8>(outPtr + outLen + i, <u8>s.charCodeAt(i));
  outLen += n;
}

export function codec_out_ptr(): usize { return outPtr; }
export function codec_out_len(): usize { return outLen; }
export function codec_out_reset(): void {
  outLen = 0;
  if (outCap > (64 << 20)) { heap.free(outPtr); outPtr = 0; outCap = 0; }
}

// ---------------------------------------------------------------- errors

let errCode: i32 = 0;
let errOff: usize = 0;
let errMsg: string = '';
let needBytes: u64 = 0;

function fail(code: i32, off: usize, msg: string): bool {
  if (errCode == 0) { errCode = code; errOff = off; errMsg = msg; }
  return false;
}
export function codec_err_code(): i32 { return errCode; }
export function codec_err_offset(): usize { return errOff; }
export function codec_err_msg(): string { return errMsg; }
export function codec_need(): u64 { return needBytes; }

// ---------------------------------------------------------------- number text

const HEXD = '0123456789abcdef';
let pairs: usize = 0; // "00".."99"
function initPairs(): void {
  pairs = heap.alloc(200);
  for (let i = 0; i < 100; i++) { store<u8>(pairs + i * 2, <u8>(48 + i / 10)); store<u8>(pairs + i * 2 + 1, <u8>(48 + i % 10)); }
}
@inline function digits32(w: u32): usize {
  return w < 10 ? 1 : w < 100 ? 2 : w < 1000 ? 3 : w < 10000 ? 4 : w < 100000 ? 5 : w < 1000000 ? 6 : w < 10000000 ? 7 : w < 100000000 ? 8 : w < 1000000000 ? 9 : 10;
}
function putU64(v: u64): void {
  ensure(20);
  if (v < 10) { store<u8>(outPtr + outLen, <u8>(48 + v)); outLen++; return; }
  if (!pairs) initPairs();
  let n: usize;
  if (v <= 0xffffffff) n = digits32(<u32>v);
  else { n = 10; let t = v / 10000000000; while (t) { n++; t /= 10; } }
  let p = outPtr + outLen + n;
  while (v > 0xffffffff) { const q = v / 100; p -= 2; store<u16>(p, load<u16>(pairs + <usize>(v - q * 100) * 2)); v = q; }
  let w = <u32>v;
  while (w >= 100) { const q = w / 100; p -= 2; store<u16>(p, load<u16>(pairs + <usize>(w - q * 100) * 2)); w = q; }
  if (w >= 10) { p -= 2; store<u16>(p, load<u16>(pairs + <usize>w * 2)); }
  else { p--; store<u8>(p, <u8>(48 + w)); }
  outLen += n;
}
function putI64(v: i64): void {
  if (v < 0) { put(0x2d); putU64(<u64>(-v)); } else putU64(<u64>v);
}
function putHexU(v: u64): void {
  ensure(18);
  put(0x30); put(0x78);
  if (v == 0) { put(0x30); return; }
  let n: usize = 0; let t = v;
  while (t) { n++; t >>= 4; }
  let p = outPtr + outLen + n;
  while (v) { p--; store<u8>(p, <u8>HEXD.charCodeAt(<i32>(v & 15))); v >>= 4; }
  outLen += n;
}

// ---------------------------------------------------------------- formatting state

let modeValues = false; // apply display hints (crit --pretty)
let modeIndent = false; // indent 4 (crit --pretty)
let modeBig = false;    // mark integers above 2^53 for the host (object mode)

function nl(depth: i32): void {
  if (!modeIndent) return;
  const n = <usize>(1 + depth * 4);
  ensure(n);
  store<u8>(outPtr + outLen, 10);
  memory.fill(outPtr + outLen + 1, 0x20, n - 1);
  outLen += n;
}
@inline function sep(first: bool, depth: i32): void {
  if (!first) { put(0x2c); if (!modeIndent) put(0x20); }
  nl(depth);
}

// ---------------------------------------------------------------- wire reading

let vp: usize = 0; // varint cursor
let vok = true;
function varint(end: usize): u64 {
  let p = vp;
  if (p < end) {
    const b = load<u8>(p);
    if (b < 0x80) { vp = p + 1; return <u64>b; }
  }
  let r: u64 = 0; let shift: u64 = 0;
  while (true) {
    if (p >= end) { vok = false; fail(ERR_BAD_VARINT, p, 'varint runs past the end of its message'); return 0; }
    const b = load<u8>(p); p++;
    r |= (<u64>(b & 0x7f)) << shift;
    if (b < 0x80) break;
    shift += 7;
    if (shift >= 70) { vok = false; fail(ERR_BAD_VARINT, p - 1, 'varint longer than 10 bytes'); return 0; }
  }
  vp = p;
  return r;
}

// occurrence stack: 5 u32 per field occurrence (field index or -1, wire type, tag start, value start, value end)
let occPtr: usize = 0;
let occTop: u32 = 0;
let occCap: u32 = 0;
function occPush(fi: i32, wt: u32, ts: usize, vs: usize, ve: usize): void {
  if (occTop >= occCap) {
    const nc = occCap ? occCap * 2 : 1024;
    occPtr = occPtr ? heap.realloc(occPtr, <usize>nc * 20) : heap.alloc(<usize>nc * 20);
    occCap = nc;
  }
  const p = occPtr + <usize>occTop * 20;
  store<i32>(p, fi); store<u32>(p, wt, 4); store<u32>(p, <u32>ts, 8); store<u32>(p, <u32>vs, 12); store<u32>(p, <u32>ve, 16);
  occTop++;
}
@inline function occF(i: u32): i32 { return load<i32>(occPtr + <usize>i * 20); }
@inline function occW(i: u32): u32 { return load<u32>(occPtr + <usize>i * 20, 4); }
@inline function occT(i: u32): usize { return <usize>load<u32>(occPtr + <usize>i * 20, 8); }
@inline function occS(i: u32): usize { return <usize>load<u32>(occPtr + <usize>i * 20, 12); }
@inline function occE(i: u32): usize { return <usize>load<u32>(occPtr + <usize>i * 20, 16); }

function findField(m: Msg, num: u32): i32 {
  if (num < <u32>m.byNum.length) return m.byNum[num];
  for (let j = 0; j < m.fields.length; j++) if (m.fields[j].num == num) return j;
  return -1;
}

@inline function wireOf(t: u8): u32 {
  if (t == T_DOUBLE || t == T_FIXED64 || t == T_SFIXED64) return 1;
  if (t == T_FLOAT || t == T_FIXED32 || t == T_SFIXED32) return 5;
  if (t == T_STRING || t == T_BYTES || t == T_MESSAGE) return 2;
  return 0;
}

/** Scan a message's fields onto the occurrence stack. */
function scan(m: Msg, s: usize, e: usize): bool {
  let p = s;
  while (p < e) {
    const ts = p;
    vp = p;
    const tag = varint(e);
    if (!vok) return false;
    p = vp;
    const num = <u32>(tag >> 3);
    const wt = <u32>(tag & 7);
    if (num == 0 || tag > 0xffffffff) return fail(ERR_BAD_WIRE, ts, 'invalid field tag');
    let vs = p; let ve: usize = 0;
    if (wt == 0) { vp = p; varint(e); if (!vok) return false; ve = vp; }
    else if (wt == 1) { if (e - p < 8) return fail(ERR_BAD_LENGTH, p, 'fixed64 field runs past the end of its message'); ve = p + 8; }
    else if (wt == 5) { if (e - p < 4) return fail(ERR_BAD_LENGTH, p, 'fixed32 field runs past the end of its message'); ve = p + 4; }
    else if (wt == 2) {
      vp = p;
      const len = varint(e);
      if (!vok) return false;
      vs = vp;
      if (len > <u64>(e - vs)) return fail(ERR_BAD_LENGTH, p, 'length-delimited field claims ' + len.toString() + ' bytes but only ' + (e - vs).toString() + ' remain in its message');
      ve = vs + <usize>len;
    } else return fail(ERR_BAD_WIRE, ts, 'unsupported wire type ' + wt.toString());
    p = ve;
    const fi = findField(m, num);
    if (fi >= 0) {
      const f = m.fields[fi];
      const want = wireOf(f.type);
      if (wt != want && !(wt == 2 && f.label == L_REP && want != 2))
        return fail(ERR_BAD_WIRE, ts, 'field ' + String.UTF8.decode(f.name) + ' has wire type ' + wt.toString() + ', expected ' + want.toString());
    }
    occPush(fi, wt, ts, vs, ve);
  }
  return true;
}

// ---------------------------------------------------------------- JSON text pieces

function putJsonCodepoint(c: u32): void {
  if (c >= 0x20 && c < 0x80) {
    if (c == 0x22) { put(0x5c); put(0x22); }
    else if (c == 0x5c) { put(0x5c); put(0x5c); }
    else put(c);
    return;
  }
  if (c == 10) { put(0x5c); put(0x6e); return; }
  if (c == 13) { put(0x5c); put(0x72); return; }
  if (c == 9) { put(0x5c); put(0x74); return; }
  if (c == 8) { put(0x5c); put(0x62); return; }
  if (c == 12) { put(0x5c); put(0x66); return; }
  if (c >= 0x10000) {
    const v = c - 0x10000;
    putJsonCodepoint(0xd800 + (v >> 10));
    putJsonCodepoint(0xdc00 + (v & 0x3ff));
    return;
  }
  put(0x5c); put(0x75);
  put(HEXD.charCodeAt((c >> 12) & 15)); put(HEXD.charCodeAt((c >> 8) & 15));
  put(HEXD.charCodeAt((c >> 4) & 15)); put(HEXD.charCodeAt(c & 15));
}

/** A UTF-8 string as JSON text with ensure_ascii; invalid bytes become \udcXX (surrogateescape). */
function putJsonUtf8(s: usize, e: usize): void {
  put(0x22);
  let p = s;
  while (p < e) {
    const b = <u32>load<u8>(p);
    if (b < 0x80) {
      if (b >= 0x20 && b != 0x22 && b != 0x5c) put(b); else putJsonCodepoint(b);
      p++; continue;
    }
    let n = 0; let c: u32 = 0; let min: u32 = 0;
    if ((b & 0xe0) == 0xc0) { n = 1; c = b & 0x1f; min = 0x80; }
    else if ((b & 0xf0) == 0xe0) { n = 2; c = b & 0x0f; min = 0x800; }
    else if ((b & 0xf8) == 0xf0) { n = 3; c = b & 0x07; min = 0x10000; }
    let ok = n > 0 && p + n < e + 1 && p + <usize>n < e + 1;
    if (ok) {
      for (let k = 1; k <= n; k++) {
        if (p + k >= e) { ok = false; break; }
        const cb = <u32>load<u8>(p + k);
        if ((cb & 0xc0) != 0x80) { ok = false; break; }
        c = (c << 6) | (cb & 0x3f);
      }
    }
    if (ok && (c < min || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))) ok = false;
    if (!ok) { putJsonCodepoint(0xdc00 + b); p++; continue; }
    putJsonCodepoint(c);
    p += 1 + n;
  }
  put(0x22);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
let b64tab: usize = 0;
function b64init(): void {
  if (b64tab) return;
  b64tab = heap.alloc(64);
  for (let i = 0; i < 64; i++) store<u8>(b64tab + i, <u8>B64.charCodeAt(i));
}

/** Python base64.encodebytes as a JSON string: 76 chars per line, each line ends with "\n". */
function putBase64(s: usize, n: usize): void {
  b64init();
  const lines = (n + 56) / 57;
  ensure(2 + lines * 78 + 4);
  let o = outPtr + outLen;
  store<u8>(o++, 0x22);
  let p = s; const e = s + n;
  while (p < e) {
    const le = p + 57 < e ? p + 57 : e;
    while (p + 3 <= le) {
      const v = (<u32>load<u8>(p) << 16) | (<u32>load<u8>(p + 1) << 8) | <u32>load<u8>(p + 2);
      store<u8>(o, load<u8>(b64tab + (v >> 18)));
      store<u8>(o + 1, load<u8>(b64tab + ((v >> 12) & 63)));
      store<u8>(o + 2, load<u8>(b64tab + ((v >> 6) & 63)));
      store<u8>(o + 3, load<u8>(b64tab + (v & 63)));
      o += 4; p += 3;
    }
    const r = le - p;
    if (r == 1) {
      const v = <u32>load<u8>(p) << 16;
      store<u8>(o, load<u8>(b64tab + (v >> 18))); store<u8>(o + 1, load<u8>(b64tab + ((v >> 12) & 63)));
      store<u8>(o + 2, 0x3d); store<u8>(o + 3, 0x3d); o += 4; p += 1;
    } else if (r == 2) {
      const v = (<u32>load<u8>(p) << 16) | (<u32>load<u8>(p + 1) << 8);
      store<u8>(o, load<u8>(b64tab + (v >> 18))); store<u8>(o + 1, load<u8>(b64tab + ((v >> 12) & 63)));
      store<u8>(o + 2, load<u8>(b64tab + ((v >> 6) & 63))); store<u8>(o + 3, 0x3d); o += 4; p += 2;
    }
    store<u8>(o, 0x5c); store<u8>(o + 1, 0x6e); o += 2;
  }
  store<u8>(o++, 0x22);
  outLen = o - outPtr;
}

/** Quoted-printable (crit's conv "unix_name", Python binascii.b2a_qp) as a JSON string. */
function putQuopri(s: usize, n: usize): void {
  // build the encoded ASCII in a scratch area first, then JSON-escape it
  // each byte becomes at most 3 ("=XX"), plus a 2-byte soft break per 75 columns: < 4n
  const tmp = heap.alloc(n * 4 + 16);
  let o = tmp; let col = 0;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(s + i);
    if (c == 10) { store<u8>(o++, 10); col = 0; continue; }
    const atEol = i + 1 == n || load<u8>(s + i + 1) == 10;
    const quote = c == 0x3d || (c < 0x20 && c != 9 && c != 13) || c > 0x7e || ((c == 0x20 || c == 9) && atEol) || (c == 0x2e && col == 0 && (atEol || load<u8>(s + i + 1) == 0 || load<u8>(s + i + 1) == 13));
    const w = quote ? 3 : 1;
    if (col + w > 75 && !(atEol && col + w <= 76)) { store<u8>(o++, 0x3d); store<u8>(o++, 10); col = 0; }
    if (quote) {
      store<u8>(o++, 0x3d);
      store<u8>(o++, <u8>'0123456789ABCDEF'.charCodeAt(c >> 4));
      store<u8>(o++, <u8>'0123456789ABCDEF'.charCodeAt(c & 15));
    } else store<u8>(o++, <u8>c);
    col += w;
  }
  putJsonUtf8(tmp, o);
  heap.free(tmp);
}

// ---------------------------------------------------------------- value emission

function fixed32(p: usize): u64 { return <u64>load<u32>(p); }
function fixed64(p: usize): u64 { return load<u64>(p); }

function putBigAware(v: u64, signed: bool): void {
  const neg = signed && <i64>v < 0;
  const mag: u64 = neg ? <u64>(-<i64>v) : v;
  if (modeBig && mag > 9007199254740991) {
    // "\u0000<digits>": CRIU strings come from C strings and never hold NUL
    putAscii('"\\u0000'); if (neg) put(0x2d); putU64(mag); put(0x22);
    return;
  }
  if (neg) put(0x2d);
  putU64(mag);
}

function putHexSigned(v: u64, signed: bool): void {
  put(0x22);
  if (signed && <i64>v < 0) { put(0x2d); putHexU(<u64>(-<i64>v)); } else putHexU(v);
  put(0x22);
}

function putMapName(m: VMap, v: i64): bool {
  for (let i = 0; i < m.vals.length; i++) {
    if (m.vals[i] == v) { put(0x22); putBuf(m.names[i]); put(0x22); return true; }
  }
  return false;
}

function putFlags(m: VMap, v: u64): void {
  put(0x22);
  let first = true;
  for (let i = 0; i < m.vals.length; i++) {
    const bit = <u64>m.vals[i];
    if (v & bit) {
      if (!first) putAscii(' | ');
      putBuf(m.names[i]); first = false;
    }
  }
  const rest = v & ~m.allBits;
  if (rest) {
    if (!first) putAscii(' | ');
    putHexU(rest);
  }
  put(0x22);
}

/** Decode one scalar value at p (wire type wt) to a 64-bit pattern per the field's type. */
@inline function scalarAt(f: Field, wt: u32, p: usize, e: usize): u64 {
  if (wt == 1) return fixed64(p);
  if (wt == 5) return fixed32(p);
  vp = p;
  return varint(e);
}

@inline function isSigned(t: u8): bool {
  return t == T_INT32 || t == T_INT64 || t == T_SINT32 || t == T_SINT64 || t == T_SFIXED32 || t == T_SFIXED64 || t == T_ENUM;
}

/** Normalize a raw wire value into its 64-bit meaning (sign-extended for signed types). */
@inline function normalize(t: u8, raw: u64): u64 {
  if (t == T_INT32 || t == T_ENUM) return <u64><i64><i32>raw;
  if (t == T_UINT32 || t == T_FIXED32) return raw & 0xffffffff;
  if (t == T_SINT32) { const u = <u32>raw; return <u64><i64><i32>((u >>> 1) ^ (0 - (u & 1))); }
  if (t == T_SINT64) return (raw >>> 1) ^ (0 - (raw & 1));
  if (t == T_SFIXED32) return <u64><i64><i32>raw;
  return raw;
}

function putScalar(f: Field, raw: u64, hex: bool): void {
  const t = f.type;
  if (t == T_BOOL) { putAscii(raw != 0 ? 'true' : 'false'); return; }
  if (t == T_DOUBLE) { putAscii(reinterpret<f64>(raw).toString()); return; }
  if (t == T_FLOAT) { putAscii((<f64>reinterpret<f32>(<u32>raw)).toString()); return; }
  const v = normalize(t, raw);
  if (t == T_ENUM) {
    if (!putMapName(getMap(f.sub), <i64>v)) putI64(<i64>v);
    return;
  }
  const signed = isSigned(t);
  if (modeValues) {
    if (hex || (f.hints & H_HEX)) { putHexSigned(v, signed); return; }
    if (f.hints & H_DEV) {
      put(0x22);
      if (f.hints & H_ODEV) {
        putU64(((v >> 8) & 0xfff) | ((v >> 32) & ~<u64>0xfff)); put(0x3a);
        putU64((v & 0xff) | ((v >> 12) & ~<u64>0xff));
      } else {
        putU64(v >> 20); put(0x3a); putU64(v & 0xfffff);
      }
      put(0x22);
      return;
    }
    if (f.flags >= 0) { putFlags(getMap(f.flags), v); return; }
    if (f.dict >= 0) { if (putMapName(getMap(f.dict), <i64>v)) return; }
  }
  putBigAware(v, signed);
}

function putIp(vals: StaticArray<u32>, n: i32): void {
  put(0x22);
  if (n == 1) {
    const v = vals[0];
    putU64(v & 255); put(0x2e); putU64((v >> 8) & 255); put(0x2e); putU64((v >> 16) & 255); put(0x2e); putU64(v >> 24);
  } else {
    const g = new StaticArray<u32>(8);
    for (let i = 0; i < 4; i++) {
      const v = vals[i];
      g[i * 2] = ((v & 255) << 8) | ((v >> 8) & 255);
      g[i * 2 + 1] = (((v >> 16) & 255) << 8) | (v >> 24);
    }
    let bestS = -1, bestL = 0, curS = -1, curL = 0;
    for (let i = 0; i < 8; i++) {
      if (g[i] == 0) {
        if (curS < 0) { curS = i; curL = 1; } else curL++;
        if (curL > bestL) { bestL = curL; bestS = curS; }
      } else { curS = -1; curL = 0; }
    }
    if (bestL < 2) bestS = -1;
    for (let i = 0; i < 8; i++) {
      if (i == bestS) { putAscii(i == 0 ? '::' : ':'); i += bestL - 1; continue; }
      let t = g[i];
      let started = false;
      for (let sh = 12; sh >= 0; sh -= 4) {
        const d = (t >> sh) & 15;
        if (d || started || sh == 0) { put(HEXD.charCodeAt(d)); started = true; }
      }
      if (i < 7) put(0x3a);
    }
  }
  put(0x22);
}

/** Emit one (non-repeated or element) value of field f from occurrence i. */
function putValue(f: Field, i: u32, depth: i32, hex: bool): bool {
  const wt = occW(i); const s = occS(i); const e = occE(i);
  const t = f.type;
  if (t == T_MESSAGE) return emitMsg(f.sub, s, e, depth, hex || (modeValues && (f.hints & H_HEX) != 0));
  if (t == T_STRING) { putJsonUtf8(s, e); return true; }
  if (t == T_BYTES) { if (f.hints & H_UNIX) putQuopri(s, e - s); else putBase64(s, e - s); return true; }
  const raw = scalarAt(f, wt, s, e);
  if (!vok) return false;
  putScalar(f, raw, hex);
  return true;
}

/** Emit the elements of a repeated scalar occurrence list (handles packed runs). */
function putRepeated(f: Field, base: u32, top: u32, fi: i32, depth: i32, hex: bool): bool {
  // ip addresses: gather values first
  if (modeValues && (f.hints & H_IP) != 0) {
    let n = 0;
    const vals = new StaticArray<u32>(8);
    for (let i = base; i < top; i++) {
      if (occF(i) != fi) continue;
      if (occW(i) == 2) { n = 99; break; }
      const raw = scalarAt(f, occW(i), occS(i), occE(i));
      if (n < 8) vals[n] = <u32>raw;
      n++;
    }
    if (n == 1 || n == 4) {
      put(0x5b); nl(depth + 1); putIp(vals, n); nl(depth); put(0x5d);
      return true;
    }
  }
  put(0x5b);
  let first = true;
  for (let i = base; i < top; i++) {
    if (occF(i) != fi) continue;
    if (occW(i) == 2 && wireOf(f.type) != 2) {
      // packed
      let p = occS(i); const e = occE(i);
      const w = wireOf(f.type);
      while (p < e) {
        let raw: u64 = 0;
        if (w == 1) { if (e - p < 8) return fail(ERR_BAD_LENGTH, p, 'packed fixed64 runs past its field'); raw = fixed64(p); p += 8; }
        else if (w == 5) { if (e - p < 4) return fail(ERR_BAD_LENGTH, p, 'packed fixed32 runs past its field'); raw = fixed32(p); p += 4; }
        else { vp = p; raw = varint(e); if (!vok) return false; p = vp; }
        sep(first, depth + 1); first = false;
        putScalar(f, raw, hex);
      }
      continue;
    }
    sep(first, depth + 1); first = false;
    if (!putValue(f, i, depth + 1, hex)) return false;
  }
  if (!first) nl(depth);
  put(0x5d);
  return true;
}

let depthLimit = 48;

/**
 * One-pass emission for canonical bytes (fields in increasing number order, no
 * repeated fields, no unknown fields). Returns false without reporting anything
 * when the bytes are not like that; the caller then uses the general path.
 */
function emitFast(m: Msg, s: usize, e: usize, depth: i32, hex: bool): bool {
  const mark = outLen;
  put(0x7b);
  let first = true;
  let lastNum: u32 = 0;
  let p = s;
  const byNum = m.byNum;
  while (p < e) {
    let tag = <u32>load<u8>(p);
    if (tag < 0x80) p++;
    else { vp = p; const t = varint(e); if (!vok || t > 0xffffffff) { vok = true; errCode = 0; outLen = mark; return false; } tag = <u32>t; p = vp; }
    const num = tag >> 3; const wt = tag & 7;
    if (num <= lastNum || num >= <u32>byNum.length) { outLen = mark; return false; }
    const fi = unchecked(byNum[num]);
    if (fi < 0) { outLen = mark; return false; }
    const f = unchecked(m.fields[fi]);
    if (wt != wireOf(f.type) || f.label == L_REP) { outLen = mark; return false; }
    lastNum = num;
    if (modeIndent) { sep(first, depth + 1); putBuf(f.key); }
    else putBuf(first ? f.key : f.ckey);
    first = false;
    if (wt == 0) {
      let raw: u64;
      if (p < e && load<u8>(p) < 0x80) { raw = <u64>load<u8>(p); p++; }
      else { vp = p; raw = varint(e); if (!vok) { vok = true; errCode = 0; outLen = mark; return false; } p = vp; }
      if ((f.plain || (f.unsigned && !modeValues)) && !hex && !modeBig) putU64(f.type == T_UINT32 ? raw & 0xffffffff : raw);
      else putScalar(f, raw, hex);
    } else if (wt == 1) {
      if (e - p < 8) { outLen = mark; return false; }
      putScalar(f, fixed64(p), hex); p += 8;
    } else if (wt == 5) {
      if (e - p < 4) { outLen = mark; return false; }
      putScalar(f, fixed32(p), hex); p += 4;
    } else {
      vp = p;
      const len = varint(e);
      if (!vok || len > <u64>(e - vp)) { vok = true; errCode = 0; outLen = mark; return false; }
      const vs = vp; const ve = vs + <usize>len;
      p = ve;
      const t = f.type;
      if (t == T_MESSAGE) { if (!emitMsg(f.sub, vs, ve, depth + 1, hex || (modeValues && (f.hints & H_HEX) != 0))) return false; }
      else if (t == T_STRING) putJsonUtf8(vs, ve);
      else if (f.hints & H_UNIX) putQuopri(vs, ve - vs);
      else putBase64(vs, ve - vs);
    }
  }
  if (!first) nl(depth);
  put(0x7d);
  return true;
}

/** Emit message mi (bytes s..e) as a JSON object at indentation depth. */
function emitMsg(mi: i32, s: usize, e: usize, depth: i32, hex: bool): bool {
  if (depth > depthLimit) return fail(ERR_CORRUPT, s, 'messages nested too deeply');
  const m = getMsg(mi);
  if (m.fastOk) {
    const mark = outLen;
    if (emitFast(m, s, e, depth, hex)) return true;
    if (errCode != 0) return false; // a nested message failed for real
    outLen = mark;
  }
  const base = occTop;
  if (!scan(m, s, e)) { occTop = base; return false; }
  const top = occTop;
  put(0x7b);
  let first = true;
  let unknown = 0;
  const nf = m.fields.length;
  // fast path: occurrences already in field order (canonical encoding) and no repeats
  for (let j = 0; j < nf; j++) {
    const f = unchecked(m.fields[j]);
    let last: i32 = -1;
    for (let i = base; i < top; i++) if (occF(i) == j) { last = <i32>i; }
    if (last < 0) continue;
    sep(first, depth + 1); first = false;
    putBuf(f.key);
    if (f.label == L_REP) { if (!putRepeated(f, base, top, j, depth + 1, hex)) { occTop = base; return false; } }
    else if (!putValue(f, <u32>last, depth + 1, hex)) { occTop = base; return false; }
  }
  for (let i = base; i < top; i++) if (occF(i) < 0) unknown++;
  if (unknown) {
    // raw bytes of unknown fields, concatenated in order
    let total: usize = 0;
    for (let i = base; i < top; i++) if (occF(i) < 0) total += occE(i) - occT(i);
    const tmp = heap.alloc(total + 1);
    let o = tmp;
    for (let i = base; i < top; i++) if (occF(i) < 0) { memory.copy(o, occT(i), occE(i) - occT(i)); o += occE(i) - occT(i); }
    sep(first, depth + 1); first = false;
    putAscii('"_unknown": ');
    putBase64(tmp, total);
    heap.free(tmp);
  }
  occTop = base;
  if (!first) nl(depth);
  put(0x7d);
  return true;
}

/** Last varint value of top-level field `num` in message bytes s..e (0 if absent). */
function fieldU64(s: usize, e: usize, num: u32): u64 {
  let p = s; let r: u64 = 0;
  while (p < e) {
    vp = p;
    const tag = varint(e); if (!vok) return 0;
    p = vp;
    const wt = <u32>(tag & 7);
    if (wt == 0) { vp = p; const v = varint(e); if (!vok) return 0; if (<u32>(tag >> 3) == num) r = v; p = vp; }
    else if (wt == 1) p += 8;
    else if (wt == 5) p += 4;
    else if (wt == 2) { vp = p; const l = varint(e); if (!vok) return 0; p = vp + <usize>l; }
    else return r;
  }
  return r;
}

// ---------------------------------------------------------------- decode driver

const K_EXTRA = '"extra": ';
const MAX_ENTRY: u32 = 256 << 20;       // bigger entry sizes are corruption
const MAX_PAYLOAD: u64 = 768 << 20;     // payloads are decoded whole in Wasm memory (base64 grows them 4/3)

/**
 * Decode whole entries from buf[0..len) as JSON text into the output buffer.
 * kind: kind index; index: number of entries already emitted for this file;
 * flags: 1 hint values (--pretty), 2 indent, 4 mark big ints, 8 this is the last chunk.
 * Returns bytes consumed (>= 0) or -1 on error. codec_count() tells how many entries
 * were emitted; when more input is needed, codec_need() tells how many bytes the
 * next entry needs in total (from its start).
 */
let emitted: u32 = 0;
export function codec_count(): u32 { return emitted; }

export function codec_decode(kind: i32, buf: usize, len: usize, index: u32, flags: u32): isize {
  errCode = 0; errMsg = ''; needBytes = 0; vok = true; emitted = 0; occTop = 0; outLen = 0;
  modeValues = (flags & 1) != 0; modeIndent = (flags & 2) != 0; modeBig = (flags & 4) != 0;
  const last = (flags & 8) != 0;
  if (kind < 0 || kind >= kinds.length) { fail(ERR_CORRUPT, 0, 'bad kind'); return -1; }
  const k = kinds[kind];
  const s0 = buf;
  const end = s0 + len;
  let p = s0;
  // pagemap entries in compact mode: the flat fast path (below) takes every entry it can
  // print; the general path takes the others, and reports incomplete or corrupt ones
  const pretty = modeValues && modeIndent && !modeBig;
  let flat = flatEnabled && k.layout == 1 && k.extra == 0 && ((!modeValues && !modeIndent) || pretty);
  if (flat) { if (flatMsg != k.msg2) flatSetup(k.msg2); flat = pretty ? prettyOn : flatOn; }
  while (p < end) {
    if (flat && index + emitted > 0) {
      p = pretty ? flatRunPretty(p, end) : flatRun(p, end);
      if (p >= end) break;
    }
    if (end - p < 4) {
      if (last) { fail(ERR_TRUNCATED, p - s0, 'file ends inside an entry size (' + (end - p).toString() + ' of 4 bytes)'); return -1; }
      needBytes = 4; break;
    }
    const size = load<u32>(p);
    // CRIU entries are small protobuf messages (the largest, mm with many VMAs, is a few MiB)
    if (size > MAX_ENTRY) { fail(ERR_TOO_LARGE, p - s0, 'entry claims an absurd size of ' + size.toString() + ' bytes'); return -1; }
    const ms = p + 4; const me = ms + <usize>size;
    if (<usize>size > end - ms) {
      if (last) { fail(ERR_TRUNCATED, p - s0, 'entry claims ' + size.toString() + ' bytes but only ' + (end - ms).toString() + ' remain in the file'); return -1; }
      needBytes = 4 + <u64>size; break;
    }
    const idx = index + emitted;
    let mi = k.msg;
    if (k.layout == 1 && idx > 0) mi = k.msg2;
    let chunked = false;
    if (k.layout == 2 && idx > 0) { mi = k.msg2; chunked = true; }
    // extra payload size
    let xlen: u64 = 0; let x2: u64 = 0; let hasX = false; let xToEof = false;
    if (k.layout == 2) {
      if (idx == 0) {
        if (fieldU64(ms, me, k.ef1) == 0) { xToEof = true; hasX = true; }
      } else { xlen = fieldU64(ms, me, k.ef2); hasX = true; }
    } else if (k.extra == 1) { xlen = fieldU64(ms, me, k.ef1); hasX = true; }
    else if (k.extra == 2) { xlen = fieldU64(ms, me, k.ef1); x2 = fieldU64(ms, me, k.ef2); hasX = true; }
    else if (k.extra == 3) { xlen = fieldU64(ms, me, k.ef1) + fieldU64(ms, me, k.ef2); hasX = true; }
    else if (k.extra == 4) { const n = fieldU64(ms, me, k.ef1) * 2; xlen = (n + 7) & ~7; hasX = true; }
    else if (k.extra == 5) { const n = fieldU64(ms, me, k.ef1); xlen = (n + 3) & ~3; hasX = true; }
    if (!vok) { return -1; }
    if (k.extra == 6) {
      // ipc msg queue: qnum x (u32 size, ipc_msg, data padded to 8)
      const q = fieldU64(ms, me, k.ef1);
      let qp = me; let okq = true;
      for (let qi: u64 = 0; qi < q; qi++) {
        if (end - qp < 4) { okq = false; break; }
        const qs = load<u32>(qp);
        if (<usize>qs > end - qp - 4) { okq = false; break; }
        const msz = fieldU64(qp + 4, qp + 4 + qs, 2);
        const pad = (msz + 7) & ~<u64>7;
        if (pad > <u64>(end - qp - 4 - qs)) { okq = false; break; }
        qp += 4 + qs + <usize>pad;
      }
      if (!okq) {
        if (last) { fail(ERR_TRUNCATED, me - s0, 'message queue data runs past the end of the file'); return -1; }
        needBytes = <u64>(end - p) + 65536; break;
      }
      xlen = <u64>(qp - me); hasX = true;
    }
    if (xToEof) {
      if (!last) { needBytes = 0xffffffffffffffff; break; } // everything up to the end of the file
      xlen = <u64>(end - me);
    }
    if (xlen + x2 > <u64>(end - me)) {
      if (xlen + x2 > MAX_PAYLOAD) { fail(ERR_TOO_LARGE, p - s0, 'entry claims an absurd payload of ' + (xlen + x2).toString() + ' bytes'); return -1; }
      if (last) { fail(ERR_TRUNCATED, me - s0, 'payload of ' + (xlen + x2).toString() + ' bytes runs past the end of the file (' + (end - me).toString() + ' remain)'); return -1; }
      needBytes = <u64>(me - p) + xlen + x2; break;
    }
    // the entry
    sep(idx == 0, 2);
    const mark = outLen;
    const mark2 = occTop;
    if (!emitMsg(mi, ms, me, 2, false)) { if (errOff < s0 || errOff > end) errOff = ms; errOff -= s0; outLen = mark; occTop = mark2; return -1; }
    if (hasX) {
      // reopen the object to append "extra"
      outLen--; // drop '}'
      if (modeIndent) { while (outLen > mark && load<u8>(outPtr + outLen - 1) != 0x7b && load<u8>(outPtr + outLen - 1) != 10) outLen--; if (load<u8>(outPtr + outLen - 1) == 10) outLen--; }
      const empty = load<u8>(outPtr + outLen - 1) == 0x7b;
      sep(empty, 3);
      putAscii(K_EXTRA);
      const xs = me;
      if (k.extra == 2) {
        put(0x7b); nl(4); putAscii('"inq": '); putBase64(xs, <usize>xlen);
        put(0x2c); if (!modeIndent) put(0x20); nl(4); putAscii('"outq": '); putBase64(xs + <usize>xlen, <usize>x2); nl(3); put(0x7d);
      } else if (k.extra == 4) {
        const n = <usize>fieldU64(ms, me, k.ef1);
        put(0x5b);
        for (let i: usize = 0; i < n; i++) { sep(i == 0, 4); putU64(<u64>load<u16>(xs + i * 2)); }
        if (n) nl(3);
        put(0x5d);
      } else if (k.extra == 5) {
        putBase64(xs, <usize>fieldU64(ms, me, k.ef1));
      } else if (k.extra == 6) {
        put(0x5b);
        let qp = xs; let firstq = true;
        const saveV = modeValues; modeValues = false;
        while (qp < xs + <usize>xlen) {
          const qs = load<u32>(qp);
          const msz = <usize>fieldU64(qp + 4, qp + 4 + qs, 2);
          sep(firstq, 4); firstq = false;
          if (!emitMsg(k.msg2, qp + 4, qp + 4 + qs, 4, false)) { modeValues = saveV; errOff -= s0; return -1; }
          sep(false, 4);
          putBase64(qp + 4 + qs, msz);
          qp += 4 + qs + ((msz + 7) & ~7);
        }
        modeValues = saveV;
        if (!firstq) nl(3);
        put(0x5d);
      } else {
        putBase64(xs, <usize>xlen);
      }
      nl(2); put(0x7d);
    }
    p = me + <usize>(xlen + x2);
    emitted++;
    if (chunked && false) break;
  }
  return <isize>(p - s0);
}

// ---------------------------------------------------------------- JSON -> binary

let jp: usize = 0;     // JSON cursor
let jend: usize = 0;
let jbase: usize = 0;  // start of the JSON text (for error offsets)

function jfail(msg: string): bool { return fail(ERR_BAD_JSON, jp - jbase, msg); }

@inline function isWs(c: u32): bool { return c == 0x20 || c == 10 || c == 13 || c == 9; }
function ws(): void { while (jp < jend && isWs(<u32>load<u8>(jp))) jp++; }
function peekc(): u32 { ws(); return jp < jend ? <u32>load<u8>(jp) : 0; }
function expect(c: u32): bool {
  if (peekc() != c) return jfail('expected \'' + String.fromCharCode(c) + '\'' + (jp < jend ? ' but found \'' + String.fromCharCode(load<u8>(jp)) + '\'' : ' but the text ended'));
  jp++; return true;
}

// scratch for decoded JSON strings (UTF-8)
let sPtr: usize = 0; let sLen: usize = 0; let sCap: usize = 0;
let sBuf: usize = 0; let sBufCap: usize = 0;
function sPut(b: u32): void {
  if (sLen >= sBufCap) { const nc = sBufCap ? sBufCap * 2 : 4096; sBuf = sBuf ? heap.realloc(sBuf, nc) : heap.alloc(nc); sBufCap = nc; }
  sPtr = sBuf;
  store<u8>(sBuf + sLen, <u8>b); sLen++;
}
function hex4(): i32 {
  if (jend - jp < 4) return -1;
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = <i32>load<u8>(jp + i);
    let d = -1;
    if (c >= 48 && c <= 57) d = c - 48; else if (c >= 97 && c <= 102) d = c - 87; else if (c >= 65 && c <= 70) d = c - 55;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  jp += 4;
  return v;
}
function sPutCp(c: u32): void {
  if (c >= 0xdc80 && c <= 0xdcff) { sPut(c - 0xdc00); return; } // surrogateescape: a raw byte
  if (c < 0x80) sPut(c);
  else if (c < 0x800) { sPut(0xc0 | (c >> 6)); sPut(0x80 | (c & 63)); }
  else if (c < 0x10000) { sPut(0xe0 | (c >> 12)); sPut(0x80 | ((c >> 6) & 63)); sPut(0x80 | (c & 63)); }
  else { sPut(0xf0 | (c >> 18)); sPut(0x80 | ((c >> 12) & 63)); sPut(0x80 | ((c >> 6) & 63)); sPut(0x80 | (c & 63)); }
}
/** Parse a JSON string into the scratch (UTF-8). */
let sView: usize = 0; // when a string had no escapes, sPtr points into the input (not the scratch)
function jstring(): bool {
  if (peekc() != 0x22) return jfail('expected a string');
  jp++; sLen = 0;
  // fast path: no escapes; point into the text itself
  let q = jp;
  while (q < jend) {
    const c = load<u8>(q);
    if (c == 0x22) { sPtr = jp; sLen = q - jp; jp = q + 1; sView = 1; return true; }
    if (c == 0x5c) break;
    q++;
  }
  sView = 0; sPtr = sBuf;
  while (true) {
    if (jp >= jend) return jfail('unterminated string');
    const c = <u32>load<u8>(jp++);
    if (c == 0x22) return true;
    if (c == 0x5c) {
      if (jp >= jend) return jfail('unterminated string');
      const e = <u32>load<u8>(jp++);
      if (e == 0x6e) sPut(10); else if (e == 0x74) sPut(9); else if (e == 0x72) sPut(13);
      else if (e == 0x62) sPut(8); else if (e == 0x66) sPut(12);
      else if (e == 0x22 || e == 0x5c || e == 0x2f) sPut(e);
      else if (e == 0x75) {
        let cp = hex4(); if (cp < 0) return jfail('bad \\u escape');
        if (cp >= 0xd800 && cp < 0xdc00 && jend - jp >= 6 && load<u8>(jp) == 0x5c && load<u8>(jp + 1) == 0x75) {
          const save = jp; jp += 2;
          const lo = hex4();
          if (lo >= 0xdc00 && lo < 0xe000) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); else jp = save;
        }
        sPutCp(<u32>cp);
      } else return jfail('bad escape in string');
    } else sPut(c);
  }
}
function sEq(b: ArrayBuffer): bool {
  if (<usize>b.byteLength != sLen) return false;
  return memory.compare(changetype<usize>(b), sPtr, sLen) == 0;
}
function sEqStr(s: string): bool {
  if (<usize>s.length != sLen) return false;
  for (let i = 0; i < s.length; i++) if (load<u8>(sPtr + i) != <u8>s.charCodeAt(i)) return false;
  return true;
}

/** Skip any JSON value. */
function jskip(depth: i32): bool {
  if (depth > 200) return jfail('JSON nested too deeply');
  const c = peekc();
  if (c == 0x22) return jstring();
  if (c == 0x7b || c == 0x5b) {
    const close: u32 = c == 0x7b ? 0x7d : 0x5d;
    jp++;
    if (peekc() == close) { jp++; return true; }
    while (true) {
      if (c == 0x7b) { if (!jstring()) return false; if (!expect(0x3a)) return false; }
      if (!jskip(depth + 1)) return false;
      const d = peekc();
      if (d == 0x2c) { jp++; continue; }
      if (d == close) { jp++; return true; }
      return jfail('expected \',\' or closing bracket');
    }
  }
  // number or literal
  const s = jp;
  while (jp < jend) {
    const d = <u32>load<u8>(jp);
    if (d == 0x2c || d == 0x7d || d == 0x5d || isWs(d)) break;
    jp++;
  }
  if (jp == s) return jfail('expected a value');
  return true;
}

// number parsing: result in jnum (two's complement), jneg; jisInt
let jnum: u64 = 0;
let jfloat: f64 = 0;
let jisFloat = false;
function jnumber(): bool {
  ws();
  const s = jp;
  let neg = false;
  if (jp < jend && load<u8>(jp) == 0x2d) { neg = true; jp++; }
  let v: u64 = 0; let nd = 0; let over = false;
  while (jp < jend) {
    const c = <u32>load<u8>(jp);
    if (c < 48 || c > 57) break;
    const d = <u64>(c - 48);
    if (nd >= 19 && (v > 1844674407370955161 || (v == 1844674407370955161 && d > 5))) over = true;
    v = v * 10 + d; nd++; jp++;
  }
  if (nd == 0) { jp = s; return jfail('expected a number'); }
  jisFloat = false;
  if (jp < jend) {
    const c = <u32>load<u8>(jp);
    if (c == 0x2e || c == 0x65 || c == 0x45) {
      while (jp < jend) { const d = <u32>load<u8>(jp); if (d == 0x2c || d == 0x7d || d == 0x5d || isWs(d)) break; jp++; }
      jisFloat = true;
      jfloat = parseFloat(String.UTF8.decodeUnsafe(s, jp - s));
      return true;
    }
  }
  if (over || (neg && v > 0x8000000000000000)) { jp = s; return jfail('integer does not fit 64 bits'); }
  jnum = neg ? <u64>(-<i64>v) : v;
  return true;
}

/** Python int(s, 0) on the scratch range [a, b). */
function parseIntText(a: usize, b: usize): bool {
  while (a < b && isWs(<u32>load<u8>(a))) a++;
  while (b > a && isWs(<u32>load<u8>(b - 1))) b--;
  let neg = false;
  if (a < b && (load<u8>(a) == 0x2d || load<u8>(a) == 0x2b)) { neg = load<u8>(a) == 0x2d; a++; }
  let base: u64 = 10;
  if (b - a > 2 && load<u8>(a) == 0x30) {
    const x = <u32>load<u8>(a + 1) | 0x20;
    if (x == 0x78) { base = 16; a += 2; } else if (x == 0x6f) { base = 8; a += 2; } else if (x == 0x62) { base = 2; a += 2; }
  }
  if (a >= b) return false;
  let v: u64 = 0;
  for (let p = a; p < b; p++) {
    const c = <u32>load<u8>(p);
    if (c == 0x5f) continue;
    let d: u64 = 99;
    if (c >= 48 && c <= 57) d = c - 48; else if ((c | 0x20) >= 97 && (c | 0x20) <= 102) d = (c | 0x20) - 87;
    if (d >= base) return false;
    if (v > (0xffffffffffffffff - d) / base) return false;
    v = v * base + d;
  }
  jnum = neg ? <u64>(-<i64>v) : v;
  return true;
}

function lookupMap(m: VMap, a: usize, n: usize): i64 {
  for (let i = 0; i < m.names.length; i++) {
    const nm = m.names[i];
    if (<usize>nm.byteLength == n && memory.compare(changetype<usize>(nm), a, n) == 0) return m.vals[i];
  }
  return -0x7fffffffffffffff;
}
const NOPE: i64 = -0x7fffffffffffffff;

/** Read an integer JSON value (number or crit's pretty string forms) for field f into jnum. */
function jint(f: Field): bool {
  const c = peekc();
  if (c == 0x74 || c == 0x66) { // true / false
    if (jend - jp >= 4 && load<u32>(jp) == 0x65757274) { jp += 4; jnum = 1; return true; }
    if (jend - jp >= 5 && load<u32>(jp) == 0x736c6166 && load<u8>(jp + 4) == 0x65) { jp += 5; jnum = 0; return true; }
  }
  if (c != 0x22) {
    if (!jnumber()) return false;
    if (jisFloat) return jfail('field ' + String.UTF8.decode(f.name) + ' needs an integer, not a fraction');
    return true;
  }
  const at = jp;
  if (!jstring()) return false;
  const a = sPtr; const b = sPtr + sLen;
  if (f.type == T_ENUM) {
    const v = lookupMap(getMap(f.sub), a, sLen);
    if (v == NOPE) { jp = at; return jfail('"' + String.UTF8.decodeUnsafe(a, sLen) + '" is not a value of enum field ' + String.UTF8.decode(f.name)); }
    jnum = <u64>v; return true;
  }
  if (f.hints & H_DEV) {
    let colon: usize = 0;
    for (let p = a; p < b; p++) if (load<u8>(p) == 0x3a) { colon = p; break; }
    if (colon) {
      if (!parseIntText(a, colon)) { jp = at; return jfail('bad device number'); }
      const ma = jnum;
      if (!parseIntText(colon + 1, b)) { jp = at; return jfail('bad device number'); }
      const mi = jnum;
      if (f.hints & H_ODEV) jnum = ((ma & 0xfff) << 8) | ((ma & ~<u64>0xfff) << 32) | (mi & 0xff) | ((mi & ~<u64>0xff) << 12);
      else jnum = (ma << 20) | mi;
      return true;
    }
  }
  if (f.flags >= 0) {
    if (sLen == 0) { jnum = 0; return true; }
    const m = getMap(f.flags);
    let sum: u64 = 0; let p = a;
    while (p <= b) {
      let q = p; while (q < b && load<u8>(q) != 0x7c) q++;
      let ta = p, tb = q;
      while (ta < tb && isWs(<u32>load<u8>(ta))) ta++;
      while (tb > ta && isWs(<u32>load<u8>(tb - 1))) tb--;
      const v = lookupMap(m, ta, tb - ta);
      if (v != NOPE) sum += <u64>v;
      else { if (!parseIntText(ta, tb)) { jp = at; return jfail('"' + String.UTF8.decodeUnsafe(ta, tb - ta) + '" is not a flag of field ' + String.UTF8.decode(f.name)); } sum += jnum; }
      p = q + 1;
    }
    jnum = sum; return true;
  }
  if (f.dict >= 0) {
    const v = lookupMap(getMap(f.dict), a, sLen);
    if (v != NOPE) { jnum = <u64>v; return true; }
  }
  if (!parseIntText(a, b)) { jp = at; return jfail('"' + String.UTF8.decodeUnsafe(a, sLen) + '" is not an integer (field ' + String.UTF8.decode(f.name) + ')'); }
  return true;
}

// arena where messages are assembled; records (num, start, end) on a stack
let aPtr: usize = 0; let aLen: usize = 0; let aCap: usize = 0;
function aEnsure(n: usize): void {
  if (aLen + n <= aCap) return;
  let c = aCap ? aCap : 65536; while (c < aLen + n) c <<= 1;
  aPtr = aPtr ? heap.realloc(aPtr, c) : heap.alloc(c); aCap = c;
}
function aByte(b: u32): void { aEnsure(1); store<u8>(aPtr + aLen, <u8>b); aLen++; }
function aVarint(v: u64): void {
  aEnsure(10);
  while (v >= 0x80) { store<u8>(aPtr + aLen, <u8>(v | 0x80)); aLen++; v >>= 7; }
  store<u8>(aPtr + aLen, <u8>v); aLen++;
}
function aCopy(p: usize, n: usize): void { aEnsure(n); memory.copy(aPtr + aLen, p, n); aLen += n; }

let rPtr: usize = 0; let rTop: u32 = 0; let rCap: u32 = 0;
function rPush(num: u32, s: usize, e: usize): void {
  if (rTop >= rCap) { const nc = rCap ? rCap * 2 : 1024; rPtr = rPtr ? heap.realloc(rPtr, <usize>nc * 12) : heap.alloc(<usize>nc * 12); rCap = nc; }
  const p = rPtr + <usize>rTop * 12;
  store<u32>(p, num); store<u32>(p, <u32>s, 4); store<u32>(p, <u32>e, 8);
  rTop++;
}

function checkRange(f: Field, v: u64): bool {
  const t = f.type;
  if (t == T_UINT32 || t == T_FIXED32) { if (v > 0xffffffff) return jfail('value out of range for uint32 field ' + String.UTF8.decode(f.name)); }
  else if (t == T_INT32 || t == T_SINT32 || t == T_SFIXED32 || t == T_ENUM) {
    const s = <i64>v;
    if (s < -2147483648 || s > 2147483647) return jfail('value out of range for int32 field ' + String.UTF8.decode(f.name));
  }
  return true;
}

/** Write the wire value of a scalar (already parsed into jnum) for field f into the arena. */
function aScalar(f: Field, v: u64): void {
  const t = f.type;
  if (t == T_SINT32) { const x = <i32>v; aVarint(<u64><u32>((x << 1) ^ (x >> 31))); }
  else if (t == T_SINT64) { const x = <i64>v; aVarint(<u64>((x << 1) ^ (x >> 63))); }
  else if (t == T_FIXED32 || t == T_SFIXED32) { aEnsure(4); store<u32>(aPtr + aLen, <u32>v); aLen += 4; }
  else if (t == T_FIXED64 || t == T_SFIXED64) { aEnsure(8); store<u64>(aPtr + aLen, v); aLen += 8; }
  else if (t == T_UINT32) aVarint(v & 0xffffffff);
  else aVarint(v);
}

function b64val(c: u32): i32 {
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 71;
  if (c >= 48 && c <= 57) return c + 4;
  if (c == 0x2b || c == 0x2d) return 62;
  if (c == 0x2f || c == 0x5f) return 63;
  return -1;
}
/** Decode base64 from the scratch into the arena (non-alphabet characters are skipped, like Python). */
function aBase64(): void {
  let acc: u32 = 0; let n = 0;
  aEnsure(sLen);
  for (let i: usize = 0; i < sLen; i++) {
    const c = <u32>load<u8>(sPtr + i);
    if (c == 0x3d) break;
    const d = b64val(c);
    if (d < 0) continue;
    acc = (acc << 6) | <u32>d; n++;
    if (n == 4) { store<u8>(aPtr + aLen, <u8>(acc >> 16)); store<u8>(aPtr + aLen + 1, <u8>(acc >> 8)); store<u8>(aPtr + aLen + 2, <u8>acc); aLen += 3; n = 0; acc = 0; }
  }
  if (n == 2) { store<u8>(aPtr + aLen, <u8>(acc >> 4)); aLen += 1; }
  else if (n == 3) { store<u8>(aPtr + aLen, <u8>(acc >> 10)); store<u8>(aPtr + aLen + 1, <u8>(acc >> 2)); aLen += 2; }
}
function hexv(c: u32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 0x20;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
function aQuopri(): void {
  aEnsure(sLen);
  let i: usize = 0;
  while (i < sLen) {
    const c = <u32>load<u8>(sPtr + i);
    if (c == 0x3d) {
      if (i + 1 < sLen && load<u8>(sPtr + i + 1) == 10) { i += 2; continue; }
      if (i + 2 < sLen + 0 && i + 2 <= sLen - 1 + 1) {
        const h = hexv(<u32>load<u8>(sPtr + i + 1)); const l = i + 2 < sLen ? hexv(<u32>load<u8>(sPtr + i + 2)) : -1;
        if (h >= 0 && l >= 0) { store<u8>(aPtr + aLen, <u8>(h * 16 + l)); aLen++; i += 3; continue; }
      }
    }
    store<u8>(aPtr + aLen, <u8>c); aLen++; i++;
  }
}

/** Parse an IP address string from the scratch into 1 or 4 u32 (network order in memory). */
function ipWords(out: StaticArray<u32>): i32 {
  let isV6 = false;
  for (let i: usize = 0; i < sLen; i++) if (load<u8>(sPtr + i) == 0x3a) { isV6 = true; break; }
  if (!isV6) {
    let v: u32 = 0; let part: u32 = 0; let nd = 0; let parts = 0;
    for (let i: usize = 0; i <= sLen; i++) {
      const c = i < sLen ? <u32>load<u8>(sPtr + i) : 0x2e;
      if (c == 0x2e) { if (nd == 0 || part > 255) return -1; v |= part << (parts * 8); parts++; part = 0; nd = 0; }
      else if (c >= 48 && c <= 57) { part = part * 10 + c - 48; nd++; if (nd > 3) return -1; }
      else return -1;
    }
    if (parts != 4) return -1;
    out[0] = v; return 1;
  }
  const g = new StaticArray<u32>(8);
  let ng = 0; let gap = -1; let i: usize = 0;
  if (sLen >= 2 && load<u8>(sPtr) == 0x3a && load<u8>(sPtr + 1) == 0x3a) { gap = 0; i = 2; }
  while (i < sLen) {
    let v: u32 = 0; let nd = 0;
    while (i < sLen) { const d = hexv(<u32>load<u8>(sPtr + i)); if (d < 0) break; v = v * 16 + <u32>d; nd++; i++; }
    if (nd == 0 || nd > 4 || ng >= 8) return -1;
    g[ng++] = v;
    if (i < sLen) {
      if (load<u8>(sPtr + i) != 0x3a) return -1;
      i++;
      if (i < sLen && load<u8>(sPtr + i) == 0x3a) { if (gap >= 0) return -1; gap = ng; i++; }
    }
  }
  if (gap >= 0) {
    const missing = 8 - ng;
    for (let k = 7; k >= gap + missing; k--) g[k] = g[k - missing];
    for (let k = gap; k < gap + missing; k++) g[k] = 0;
  } else if (ng != 8) return -1;
  for (let k = 0; k < 4; k++) {
    const hi = g[k * 2], lo = g[k * 2 + 1];
    out[k] = (hi >> 8) | ((hi & 255) << 8) | ((lo >> 8) << 16) | ((lo & 255) << 24);
  }
  return 4;
}

/** Encode one scalar/string/bytes JSON value for field f as tag+value into the arena. */
function encOne(f: Field, depth: i32): bool {
  const t = f.type;
  const tagStart = aLen;
  if (t == T_MESSAGE) {
    const r = encMsg(f.sub, depth + 1);
    if (r < 0) return false;
    // body is at [r, aLen); write tag+len after it, then the body again (records point to pieces)
    const bodyS = <usize>r; const bodyE = aLen;
    const hs = aLen;
    aVarint((<u64>f.num << 3) | 2); aVarint(<u64>(bodyE - bodyS));
    const he = aLen;
    rPush(f.num, hs, he);
    rPush(0xffffffff, bodyS, bodyE); // continuation piece
    return true;
  }
  if (t == T_STRING || t == T_BYTES) {
    if (!jstring()) return false;
    // value into arena after the header: header needs length, so build value first
    const vs = aLen;
    if (t == T_STRING) aCopy(sPtr, sLen);
    else if (f.hints & H_UNIX) aQuopri();
    else aBase64();
    const ve = aLen;
    const hs = aLen;
    aVarint((<u64>f.num << 3) | 2); aVarint(<u64>(ve - vs));
    rPush(f.num, hs, aLen);
    rPush(0xffffffff, vs, ve);
    return true;
  }
  if (t == T_BOOL) {
    const c = peekc();
    let v: u64 = 0;
    if (c == 0x74 && jend - jp >= 4 && load<u32>(jp) == 0x65757274) { jp += 4; v = 1; }
    else if (c == 0x66 && jend - jp >= 5 && load<u32>(jp) == 0x736c6166) { jp += 5; v = 0; }
    else { if (!jint(f)) return false; v = jnum != 0 ? 1 : 0; }
    aVarint(<u64>f.num << 3); aVarint(v);
    rPush(f.num, tagStart, aLen);
    return true;
  }
  if (t == T_DOUBLE || t == T_FLOAT) {
    if (!jnumber()) return false;
    const d = jisFloat ? jfloat : <f64><i64>jnum;
    if (t == T_DOUBLE) { aVarint((<u64>f.num << 3) | 1); aEnsure(8); store<f64>(aPtr + aLen, d); aLen += 8; }
    else { aVarint((<u64>f.num << 3) | 5); aEnsure(4); store<f32>(aPtr + aLen, <f32>d); aLen += 4; }
    rPush(f.num, tagStart, aLen);
    return true;
  }
  if (!jint(f)) return false;
  if (!checkRange(f, jnum)) return false;
  aVarint((<u64>f.num << 3) | wireOf(t));
  aScalar(f, jnum);
  rPush(f.num, tagStart, aLen);
  return true;
}

let ordPtr: usize = 0; let ordCap: u32 = 0;

/**
 * Encode a JSON object as message mi. Returns the arena offset where the assembled
 * canonical bytes start (they end at aLen), or -1.
 */
function encMsg(mi: i32, depth: i32): isize {
  if (depth > depthLimit) { jfail('objects nested too deeply'); return -1; }
  const m = getMsg(mi);
  if (!expect(0x7b)) return -1;
  const rBase = rTop;
  let lastFi = -1;
  let unkS: usize = 0, unkE: usize = 0, hasUnk = false;
  if (peekc() == 0x7d) { jp++; }
  else while (true) {
    const keyAt = jp;
    if (!jstring()) return -1;
    if (!expect(0x3a)) return -1;
    let fi: i32 = -1;
    // name lookup: usually the next field in order (crit prints field-number order)
    const nfl = m.fields.length;
    for (let q = 0; q < nfl; q++) {
      let j = lastFi + 1 + q; if (j >= nfl) j -= nfl;
      if (sEq(unchecked(m.fields[j]).name)) { fi = j; break; }
    }
    if (fi >= 0) lastFi = fi;
    if (fi < 0) {
      if (sEqStr('_unknown')) {
        if (!jstring()) return -1;
        unkS = aLen; aBase64(); unkE = aLen; hasUnk = true;
      } else if (sEqStr('extra') && depth == 0) {
        extraAt = jp;
        if (!jskip(0)) return -1;
      } else {
        const name = String.UTF8.decodeUnsafe(sPtr, sLen);
        jp = keyAt;
        jfail('"' + name + '" is not a field of ' + String.UTF8.decode(m.name));
        return -1;
      }
    } else {
      const f = m.fields[fi];
      if (f.label == L_REP) {
        if (!expect(0x5b)) return -1;
        if (modeValues || true) {
          // ip address strings
          if ((f.hints & H_IP) != 0 && peekc() == 0x22) {
            const at = jp;
            if (!jstring()) return -1;
            const w = new StaticArray<u32>(4);
            const n = ipWords(w);
            if (n < 0) { jp = at; jfail('not an IP address'); return -1; }
            for (let k = 0; k < n; k++) { const ts = aLen; aVarint(<u64>f.num << 3); aVarint(<u64>w[k]); rPush(f.num, ts, aLen); }
            while (peekc() == 0x2c) { jp++; if (!jskip(depth)) return -1; }
            if (!expect(0x5d)) return -1;
            if (peekc() == 0x2c) { jp++; continue; }
            if (!expect(0x7d)) return -1;
            break;
          }
        }
        if (f.hints & H_PACKED && wireOf(f.type) != 2) {
          const vs = aLen;
          if (peekc() != 0x5d) while (true) {
            if (!jint(f)) return -1;
            if (!checkRange(f, jnum)) return -1;
            aScalar(f, jnum);
            if (peekc() == 0x2c) { jp++; continue; }
            break;
          }
          if (!expect(0x5d)) return -1;
          const ve = aLen;
          if (ve > vs) {
            const hs = aLen; aVarint((<u64>f.num << 3) | 2); aVarint(<u64>(ve - vs));
            rPush(f.num, hs, aLen); rPush(0xffffffff, vs, ve);
          }
        } else {
          if (peekc() != 0x5d) while (true) {
            if (!encOne(f, depth)) return -1;
            if (peekc() == 0x2c) { jp++; continue; }
            break;
          }
          if (!expect(0x5d)) return -1;
        }
      } else {
        if (!encOne(f, depth)) return -1;
      }
    }
    const c = peekc();
    if (c == 0x2c) { jp++; continue; }
    if (!expect(0x7d)) return -1;
    break;
  }
  // assemble: records sorted by field number (stable; continuation pieces follow their head)
  const n = rTop - rBase;
  // insertion sort of groups (a group = head + optional continuation)
  if (n > ordCap) { ordCap = n * 2; ordPtr = ordPtr ? heap.realloc(ordPtr, <usize>ordCap * 4) : heap.alloc(<usize>ordCap * 4); }
  const order = ordPtr; // scratch: the assembly phase never recurses
  let g: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const num = load<u32>(rPtr + <usize>(rBase + i) * 12);
    if (num == 0xffffffff) continue;
    let k = g;
    while (k > 0 && load<u32>(rPtr + <usize>(rBase + load<u32>(order + <usize>(k - 1) * 4)) * 12) > num) {
      store<u32>(order + <usize>k * 4, load<u32>(order + <usize>(k - 1) * 4)); k--;
    }
    store<u32>(order + <usize>k * 4, i); g++;
  }
  const start = aLen;
  let total: usize = 0;
  for (let i: u32 = 0; i < n; i++) { const p = rPtr + <usize>(rBase + i) * 12; total += <usize>(load<u32>(p, 8) - load<u32>(p, 4)); }
  if (hasUnk) total += unkE - unkS;
  aEnsure(total);
  for (let x: u32 = 0; x < g; x++) {
    let i = load<u32>(order + <usize>x * 4);
    while (true) {
      const p = rPtr + <usize>(rBase + i) * 12;
      const s = <usize>load<u32>(p, 4), e = <usize>load<u32>(p, 8);
      memory.copy(aPtr + aLen, aPtr + s, e - s); aLen += e - s;
      i++;
      if (i >= n || load<u32>(rPtr + <usize>(rBase + i) * 12) != 0xffffffff) break;
    }
  }
  if (hasUnk) { memory.copy(aPtr + aLen, aPtr + unkS, unkE - unkS); aLen += unkE - unkS; }
  rTop = rBase;
  return <isize>start;
}

let extraAt: usize = 0;
let ghostChunks = false;

function outU32(v: u32): void { ensure(4); store<u32>(outPtr + outLen, v); outLen += 4; }

/** Write the extra payload (JSON value at extraAt) of entry bytes [bs, be) for kind k. */
function encExtra(k: Kind, bs: usize, be: usize): bool {
  const save = jp;
  jp = extraAt;
  if (k.extra == 2) {
    // {"inq": b64, "outq": b64}
    if (!expect(0x7b)) return false;
    let inS: usize = 0, inE: usize = 0, outS: usize = 0, outE: usize = 0;
    if (peekc() != 0x7d) while (true) {
      if (!jstring()) return false;
      const isIn = sEqStr('inq'); const isOut = sEqStr('outq');
      if (!expect(0x3a)) return false;
      if (isIn || isOut) {
        if (!jstring()) return false;
        const s = aLen; aBase64();
        if (isIn) { inS = s; inE = aLen; } else { outS = s; outE = aLen; }
      } else if (!jskip(0)) return false;
      if (peekc() == 0x2c) { jp++; continue; }
      break;
    }
    if (!expect(0x7d)) return false;
    putBytes(aPtr + inS, inE - inS); putBytes(aPtr + outS, outE - outS);
  } else if (k.extra == 4) {
    const n = fieldU64(bs, be, k.ef1);
    if (!expect(0x5b)) return false;
    let cnt: u64 = 0;
    if (peekc() != 0x5d) while (true) {
      if (!jnumber()) return false;
      if (jnum > 0xffff) return jfail('semaphore value out of range');
      ensure(2); store<u16>(outPtr + outLen, <u16>jnum); outLen += 2; cnt++;
      if (peekc() == 0x2c) { jp++; continue; }
      break;
    }
    if (!expect(0x5d)) return false;
    if (cnt != n) return jfail('number of semaphores does not match nsems');
    const pad = ((n * 2 + 7) & ~7) - n * 2;
    for (let i: u64 = 0; i < pad; i++) put(0);
  } else if (k.extra == 5) {
    const size = fieldU64(bs, be, k.ef1);
    if (!jstring()) return false;
    const s = aLen; aBase64();
    let len = <u64>(aLen - s); if (len > size) len = size;
    putBytes(aPtr + s, <usize>len);
    for (let i = len; i < ((size + 3) & ~3); i++) put(0);
  } else if (k.extra == 6) {
    if (!expect(0x5b)) return false;
    const saveV = modeValues;
    if (peekc() != 0x5d) while (true) {
      const r = encMsg(k.msg2, 1);
      if (r < 0) return false;
      const ms = <usize>r, me = aLen;
      const msize = fieldU64(aPtr + ms, aPtr + me, 2);
      outU32(<u32>(me - ms)); putBytes(aPtr + ms, me - ms);
      if (!expect(0x2c)) return false;
      if (!jstring()) return false;
      const s = aLen; aBase64();
      let len = <u64>(aLen - s); if (len > msize) len = msize;
      putBytes(aPtr + s, <usize>len);
      for (let i = len; i < ((msize + 7) & ~7); i++) put(0);
      if (peekc() == 0x2c) { jp++; continue; }
      break;
    }
    modeValues = saveV;
    if (!expect(0x5d)) return false;
  } else {
    if (!jstring()) return false;
    const s = aLen; aBase64();
    putBytes(aPtr + s, aLen - s);
  }
  jp = save;
  return true;
}

/**
 * Encode the JSON array of entries text[0..len) (the value of "entries") for kind k,
 * appending entries (without the file header) to the output buffer.
 * Returns 0, or -1 on error (codec_err_*; offsets relative to the text).
 */
export function codec_encode(kind: i32, text: usize, len: usize, base: u32, seq: u32): i32 {
  errCode = 0; errMsg = ''; vok = true; emitted = 0; rTop = 0; aLen = 0; outLen = 0;
  modeValues = true;
  if (kind < 0 || kind >= kinds.length) { fail(ERR_CORRUPT, 0, 'bad kind'); return -1; }
  const k = kinds[kind];
  jbase = text; jp = jbase; jend = jbase + len;
  // seq: a run of entries "e, e, e" cut from a longer list by codec_split (no brackets)
  if (!seq && !expect(0x5b)) return -1;
  let idx = base;
  if (base == 0) ghostChunks = false;
  if (seq ? peekc() != 0 : peekc() != 0x5d) while (true) {
    emitted = idx - base;
    let mi = k.msg;
    if ((k.layout == 1 || k.layout == 2) && idx > 0) mi = k.msg2;
    aLen = 0; rTop = 0; extraAt = 0;
    const r = encMsg(mi, 0);
    if (r < 0) return -1;
    const bs = aPtr + <usize>r, be = aPtr + aLen;
    outU32(<u32>(be - bs));
    putBytes(bs, be - bs);
    if (k.layout == 2 && idx == 0) ghostChunks = fieldU64(bs, be, k.ef1) != 0;
    const wantsExtra = (k.extra != 0 && k.layout == 0) || (k.layout == 2 && (idx > 0 || !ghostChunks));
    if (wantsExtra && extraAt) {
      if (!encExtra(k, aPtr + <usize>r, aPtr + aLen)) return -1;
    }
    idx++;
    const c = peekc();
    if (c == 0x2c) { jp++; continue; }
    break;
  }
  emitted = idx - base;
  if (!seq && !expect(0x5d)) return -1;
  ws();
  if (jp != jend) { jfail(seq ? 'expected \',\' between entries' : 'unexpected text after the entries'); return -1; }
  return 0;
}

let splitEnded: u32 = 0;
export function codec_split_ended(): u32 { return splitEnded; }
/**
 * For streaming encode: text[0..len) starts at an entry of the "entries" list. Returns the
 * offset of the ',' (or the closing ']', then codec_split_ended() is 1) after the last entry
 * that is complete in the buffer, or 0 if none is.
 */
export function codec_split(text: usize, len: usize): usize {
  const s = text; const e = s + len;
  let depth = 0; let p = s; let last: usize = 0;
  splitEnded = 0;
  while (p < e) {
    const c = load<u8>(p);
    if (c == 0x22) {
      p++;
      while (p < e) { const d = load<u8>(p); if (d == 0x5c) p += 2; else if (d == 0x22) break; else p++; }
      if (p >= e) break;
    } else if (c == 0x5b || c == 0x7b) depth++;
    else if (c == 0x5d || c == 0x7d) {
      if (depth == 0) { splitEnded = 1; return p - s; }
      depth--;
    } else if (c == 0x2c && depth == 0) last = p - s;
    p++;
  }
  return last;
}

/** Skip a JSON array/object by bracket matching (strings respected); the encoder validates it later. */
function fastSkip(): bool {
  const open = load<u8>(jp);
  let depth = 0; let p = jp;
  while (p < jend) {
    const c = load<u8>(p);
    if (c == 0x22) {
      p++;
      while (p < jend) { const d = load<u8>(p); if (d == 0x5c) p += 2; else if (d == 0x22) break; else p++; }
    } else if (c == 0x5b || c == 0x7b) depth++;
    else if (c == 0x5d || c == 0x7d) { depth--; if (depth == 0) { jp = p + 1; return true; } }
    p++;
  }
  jp = p;
  return jfail(open == 0x5b ? 'unterminated list' : 'unterminated object');
}

let locMagicS: usize = 0, locMagicE: usize = 0, locEntS: usize = 0, locEntE: usize = 0;
export function codec_loc(i: i32): usize { return i == 0 ? locMagicS : i == 1 ? locMagicE : i == 2 ? locEntS : locEntE; }
/** Find "magic" (string) and "entries" (array) in a top-level crit JSON document. */
export function codec_locate(text: usize, len: usize): i32 {
  errCode = 0; errMsg = ''; vok = true;
  jbase = text; jp = jbase; jend = jbase + len;
  locMagicS = locMagicE = locEntS = locEntE = 0;
  if (!expect(0x7b)) return -1;
  if (peekc() != 0x7d) while (true) {
    if (!jstring()) return -1;
    const isMagic = sEqStr('magic'); const isEntries = sEqStr('entries');
    if (!expect(0x3a)) return -1;
    ws();
    const vs = jp;
    if (isMagic && peekc() != 0x22) { jfail('"magic" must be a string'); return -1; }
    if (isEntries && peekc() != 0x5b) { jfail('"entries" must be a list'); return -1; }
    if (isEntries) { if (!fastSkip()) return -1; } else if (!jskip(0)) return -1;
    if (isMagic) { locMagicS = vs + 1 - jbase; locMagicE = jp - 1 - jbase; }
    if (isEntries) { locEntS = vs - jbase; locEntE = jp - jbase; }
    if (peekc() == 0x2c) { jp++; continue; }
    if (!expect(0x7d)) return -1;
    break;
  } else jp++;
  ws();
  if (jp != jend) { jfail('unexpected text after the JSON document'); return -1; }
  if (locMagicE == 0 && locMagicS == 0) { jfail('no "magic" key: not a crit image document'); return -1; }
  if (locEntE == 0) { jfail('no "entries" key: not a crit image document'); return -1; }
  return 0;
}

// ---------------------------------------------------------------- pagemap fast path

/**
 * Pagemap entries straight to packed records (no JSON), for dump/restore of large
 * memories: per entry 24 bytes in the output buffer: f64 vaddr, f64 pages, u32 flags,
 * u32 in_parent. pages is nr_pages when present, else compat_nr_pages (as CRIU reads
 * it). buf holds whole entries after the pagemap head (the host splits the head off).
 * Returns bytes consumed or -1; codec_count() = records written.
 */
export function codec_pagemap(buf: usize, len: usize, flags: u32): isize {
  errCode = 0; errMsg = ''; needBytes = 0; vok = true; emitted = 0; outLen = 0;
  const last = (flags & 8) != 0;
  const s0 = buf; const end = buf + len;
  let p = s0;
  while (p < end) {
    if (end - p < 4) { if (last) { fail(ERR_TRUNCATED, p - s0, 'file ends inside an entry size'); return -1; } needBytes = 4; break; }
    const size = load<u32>(p);
    if (size > MAX_ENTRY) { fail(ERR_TOO_LARGE, p - s0, 'entry claims an absurd size of ' + size.toString() + ' bytes'); return -1; }
    const ms = p + 4; const me = ms + <usize>size;
    if (<usize>size > end - ms) {
      if (last) { fail(ERR_TRUNCATED, p - s0, 'entry claims ' + size.toString() + ' bytes but only ' + (end - ms).toString() + ' remain in the file'); return -1; }
      needBytes = 4 + <u64>size; break;
    }
    let vaddr: u64 = 0, compat: u64 = 0, pages: u64 = 0, fl: u64 = 0, inParent: u64 = 0;
    let hasPages = false, hasVaddr = false;
    let q = ms;
    while (q < me) {
      vp = q;
      const tag = varint(me); if (!vok) { errOff -= s0; return -1; }
      q = vp;
      const num = <u32>(tag >> 3); const wt = <u32>(tag & 7);
      if (wt == 0) {
        vp = q; const v = varint(me); if (!vok) { errOff -= s0; return -1; } q = vp;
        if (num == 1) { vaddr = v; hasVaddr = true; } else if (num == 2) compat = v; else if (num == 3) inParent = v;
        else if (num == 4) fl = v; else if (num == 5) { pages = v; hasPages = true; }
      } else if (wt == 1) { if (me - q < 8) { fail(ERR_BAD_LENGTH, q - s0, 'fixed64 field runs past the end of its message'); return -1; } q += 8; }
      else if (wt == 5) { if (me - q < 4) { fail(ERR_BAD_LENGTH, q - s0, 'fixed32 field runs past the end of its message'); return -1; } q += 4; }
      else if (wt == 2) {
        vp = q; const l = varint(me); if (!vok) { errOff -= s0; return -1; }
        if (l > <u64>(me - vp)) { fail(ERR_BAD_LENGTH, q - s0, 'length-delimited field runs past the end of its message'); return -1; }
        q = vp + <usize>l;
      } else { fail(ERR_BAD_WIRE, q - s0, 'unsupported wire type ' + wt.toString()); return -1; }
    }
    if (!hasVaddr) { fail(ERR_CORRUPT, p - s0, 'pagemap entry without vaddr'); return -1; }
    ensure(24);
    const o = outPtr + outLen;
    store<f64>(o, <f64>vaddr);
    store<f64>(o, <f64>(hasPages ? pages : compat), 8);
    store<u32>(o, <u32>fl, 16);
    store<u32>(o, <u32>(inParent != 0), 20);
    outLen += 24;
    emitted++;
    p = me;
  }
  return <isize>(p - s0);
}

/** Pagemap records (as codec_pagemap writes them, n of them at src) to canonical entries. */
export function codec_pagemap_encode(src: usize, n: u32): i32 {
  errCode = 0; outLen = 0;
  for (let i: u32 = 0; i < n; i++) {
    const r = src + <usize>i * 24;
    const vaddr = <u64>load<f64>(r); const pages = <u64>load<f64>(r, 8);
    const fl = <u64>load<u32>(r, 16); const inParent = load<u32>(r, 20);
    // vaddr(1) compat_nr_pages(2)=0 [in_parent(3)] flags(4) nr_pages(5), like CRIU 4.2
    aLen = 0;
    aVarint(0x08); aVarint(vaddr);
    aVarint(0x10); aVarint(0);
    if (inParent) { aVarint(0x18); aVarint(1); }
    aVarint(0x20); aVarint(fl);
    aVarint(0x28); aVarint(pages);
    outU32(<u32>aLen);
    putBytes(aPtr, aLen);
  }
  return 0;
}

// ---------------------------------------------------------------- flat entries to JSON, fast

// A pagemap is the one image that grows to hundreds of thousands of entries, all small
// flat messages of varint scalars (pagemap_entry: vaddr, compat_nr_pages, in_parent,
// flags, nr_pages, ...). In compact mode (crit decode without --pretty) every such field
// prints as plain digits or true/false, so an entry is emitted here in one pass with no
// per-field dispatch: the keys are copied from a table built from the schema's own
// fields (", {" folded into the first key), digits are written without divisions. Any
// entry the table cannot print exactly as the general path does (another wire type, a
// field number out of order, repeated, unknown or not a plain scalar, a varint that is
// malformed, a big value in object mode) is left to the general path, which prints (or
// reports) it.

const FK_NONE: u8 = 0, FK_U64: u8 = 1, FK_U32: u8 = 2, FK_BOOL: u8 = 3;
const FLAT_MAXNUM: u32 = 15;  // one-byte tags: field numbers 1..15
const FLAT_SLOT: usize = 48;  // key text (<= 32 bytes, read as two v128) per slot
const FLAT_RESERVE: usize = 2 + (FLAT_MAXNUM + 1) * (34 + 20);
let flatMsg: i32 = -2;        // message the table is for (-2: none yet)
let flatEnabled = true;       // codec_flat(0) turns the fast path off (tests compare both paths)
let flatOn = false;           // the message has at least one field the table prints
let flatTab: usize = 0;       // per field number: kind (u8) at [n], key length (u8) at [16 + 2n + notFirst]
let flatKeys: usize = 0;      // per field number: two slots (", {\"name\": " / ", \"name\": ")

/** Turn the flat fast path on (1, the default) or off (0); returns the previous setting. */
export function codec_flat(on: i32): i32 { const was = flatEnabled; flatEnabled = on != 0; return was ? 1 : 0; }

function flatKindOf(f: Field): u8 {
  if (f.label == L_REP) return FK_NONE;
  if (f.type == T_UINT64) return FK_U64;
  if (f.type == T_UINT32) return FK_U32;
  if (f.type == T_BOOL) return FK_BOOL;
  return FK_NONE;
}

function flatSetup(mi: i32): void {
  flatMsg = mi; flatOn = false;
  if (!pairs) initPairs();
  if (!flatTab) { flatTab = heap.alloc(64); flatKeys = heap.alloc((<usize>FLAT_MAXNUM + 1) * 2 * FLAT_SLOT); }
  memory.fill(flatTab, 0, 64);
  memory.fill(flatKeys, 0x20, (<usize>FLAT_MAXNUM + 1) * 2 * FLAT_SLOT);
  const m = getMsg(mi);
  for (let j = 0; j < m.fields.length; j++) {
    const f = unchecked(m.fields[j]);
    const kind = flatKindOf(f);
    const kl = <usize>f.key.byteLength;
    if (kind == FK_NONE || f.num == 0 || f.num > FLAT_MAXNUM || kl + 3 > 32) continue;
    const n = <usize>f.num;
    const k0 = flatKeys + n * 2 * FLAT_SLOT; const k1 = k0 + FLAT_SLOT;
    store<u8>(k0, 0x2c); store<u8>(k0, 0x20, 1); store<u8>(k0, 0x7b, 2);
    memory.copy(k0 + 3, changetype<usize>(f.key), kl);
    memory.copy(k1, changetype<usize>(f.ckey), kl + 2);
    store<u8>(flatTab + n, kind);
    store<u8>(flatTab + 16 + n * 2, <u8>(kl + 3));
    store<u8>(flatTab + 17 + n * 2, <u8>(kl + 2));
    flatOn = true;
  }
  // CRIU's own entry layout: vaddr(1) compat_nr_pages(2) [in_parent(3)] flags(4) nr_pages(5)
  const k = flatTab;
  canonOn = load<u8>(k + 1) == FK_U64 && load<u8>(k + 2) == FK_U32 && load<u8>(k + 3) == FK_BOOL && load<u8>(k + 4) == FK_U32 && load<u8>(k + 5) == FK_U64;
  prettySetup(m);
}

// --pretty (crit show): CRIU's layout only, when the schema gives vaddr as hex, flags by
// name and the other fields as plain digits. Keys carry their indentation (and the first
// one the entry's ",\n        {"); the 16 combinations of the named flags are printed once
// by the general putFlags, and copied.
const PRETTY_SLOT: usize = 64;
let prettyOn = false;
let prettyKeys: usize = 0;  // slots 1..5: key text; slot 0: the entry's closing "\n        }"
let prettyFlags: usize = 0; // 16 slots: the flags value text, quoted
let prettyLen: usize = 0;   // u8 lengths: keys at [0..5], flags at [8..23]
let hexPairs: usize = 0;    // "00".."ff"

function prettySetup(m: Msg): void {
  prettyOn = false;
  if (!canonOn || m.byNum.length < 6) return;
  const fv = m.fields[m.byNum[1]]; const fc = m.fields[m.byNum[2]]; const ff = m.fields[m.byNum[4]]; const fn = m.fields[m.byNum[5]];
  if (!(fv.hints & H_HEX) || fv.flags >= 0 || fv.dict >= 0) return;
  if (!fc.plain || !fn.plain || ff.flags < 0 || ff.hints != 0 || ff.dict >= 0) return;
  if (!prettyKeys) {
    prettyKeys = heap.alloc(6 * PRETTY_SLOT); prettyFlags = heap.alloc(16 * PRETTY_SLOT); prettyLen = heap.alloc(32);
    hexPairs = heap.alloc(512);
    for (let i = 0; i < 256; i++) {
      store<u8>(hexPairs + i * 2, <u8>HEXD.charCodeAt(i >> 4)); store<u8>(hexPairs + i * 2 + 1, <u8>HEXD.charCodeAt(i & 15));
    }
  }
  memory.fill(prettyKeys, 0x20, 6 * PRETTY_SLOT);
  // the texts, made by the general emitter's own pieces (sep, nl, putBuf, putFlags), in
  // --pretty's layout whatever mode this decode is in
  const mark = outLen;
  const wasIndent = modeIndent;
  modeIndent = true;
  prettyBuild(m, mark);
  modeIndent = wasIndent;
  outLen = mark;
}

function prettyBuild(m: Msg, mark: usize): void {
  const ff = m.fields[m.byNum[4]];
  for (let num = 0; num <= 5; num++) {
    const at = outLen;
    if (num == 0) { nl(2); put(0x7d); }
    else {
      if (num == 1) { sep(false, 2); put(0x7b); }
      sep(num == 1, 3);
      putBuf(m.fields[m.byNum[num]].key);
    }
    const n = outLen - at;
    if (n > 48) { outLen = mark; return; }
    memory.copy(prettyKeys + <usize>num * PRETTY_SLOT, outPtr + at, n);
    store<u8>(prettyLen + <usize>num, <u8>n);
    outLen = at;
  }
  const map = getMap(ff.flags);
  for (let v = 0; v < 16; v++) {
    const at = outLen;
    putFlags(map, <u64>v);
    const n = outLen - at;
    if (n > PRETTY_SLOT) { outLen = mark; return; }
    memory.copy(prettyFlags + <usize>v * PRETTY_SLOT, outPtr + at, n);
    store<u8>(prettyLen + 8 + <usize>v, <u8>n);
    outLen = at;
  }
  prettyOn = true;
}

@inline function copy48(o: usize, k: usize): void {
  v128.store(o, v128.load(k)); v128.store(o, v128.load(k, 16), 16); v128.store(o, v128.load(k, 32), 32);
}
@inline function pkeyAt(o: usize, num: usize): usize {
  copy48(o, prettyKeys + num * PRETTY_SLOT);
  return o + <usize>load<u8>(prettyLen + num);
}

/** canonParse's entry in --pretty mode; false when it is not one (the general path takes it). */
@inline function canonPrettyEntry(s: usize, e: usize): bool {
  const v = canonParse(s, e);
  const sm = canonSmall;
  if (sm == CANON_NO) return false;
  const c = sm & 0xff, f = (sm >> 8) & 0xff, np = (sm >> 16) & 0xff, ip = sm >> 24;
  if (f >= 16) return false;
  ensure(FLAT_RESERVE);
  let o = outPtr + outLen;
  o = pkeyAt(o, 1);
  // "0x<hex>", no leading zeros
  store<u8>(o, 0x22); store<u16>(o, 0x7830, 1); o += 3; // "0x
  if (v == 0) { store<u8>(o, 0x30); o++; }
  else {
    const nd = <usize>((67 - clz(v)) >> 2);
    let p = o + nd; let w = v;
    while (w >= 0x10) { p -= 2; store<u16>(p, load<u16>(hexPairs + (<usize>(w & 0xff) << 1))); w >>= 8; }
    if (p > o) store<u8>(o, <u8>HEXD.charCodeAt(<i32>w));
    o += nd;
  }
  store<u8>(o, 0x22); o++;
  o = pkeyAt(o, 2); o = dec7At(o, c);
  if (ip != 0xff) {
    o = pkeyAt(o, 3);
    if (ip) { store<u32>(o, 0x65757274); o += 4; }
    else { store<u32>(o, 0x736c6166); store<u8>(o, 0x65, 4); o += 5; }
  }
  o = pkeyAt(o, 4);
  const fs = prettyFlags + <usize>f * PRETTY_SLOT;
  copy48(o, fs); v128.store(o, v128.load(fs, 48), 48);
  o += <usize>load<u8>(prettyLen + 8 + <usize>f);
  o = pkeyAt(o, 5); o = dec7At(o, np);
  o = pkeyAt(o, 0);
  outLen = o - outPtr;
  return true;
}

/** flatRun for --pretty: CRIU-layout entries only. */
function flatRunPretty(p: usize, end: usize): usize {
  let n: u32 = 0;
  while (end - p >= 4) {
    const size = <usize>load<u32>(p);
    if (size > end - p - 4) break;
    if (!canonPrettyEntry(p + 4, p + 4 + size)) break;
    p += 4 + size;
    n++;
  }
  emitted += n;
  return p;
}

let canonOn = false;
@inline function keyAt(o: usize, num: usize, notFirst: usize): usize {
  const k = flatKeys + num * (2 * FLAT_SLOT) + notFirst * FLAT_SLOT;
  v128.store(o, v128.load(k)); v128.store(o, v128.load(k, 16), 16);
  return o + <usize>load<u8>(flatTab + 16 + num * 2 + notFirst);
}
/** v (< 128) as digits at o. */
@inline function dec7At(o: usize, v: u32): usize {
  if (v < 10) { store<u8>(o, <u8>(48 + v)); return o + 1; }
  if (v < 100) { pair(o, v); return o + 2; }
  store<u8>(o, 0x31); pair(o + 1, v - 100); return o + 3;
}

const CANON_NO: u32 = 0xffffffff;
let canonSmall: u32 = 0; // canonParse's small fields: compat | flags << 8 | nr_pages << 16 | in_parent << 24 (0xff: absent)

/**
 * Parse the entry s..e if it is laid out exactly as CRIU writes one (fields 1, 2, [3,] 4,
 * 5 in order, the small ones in one byte): returns vaddr, the others in canonSmall;
 * canonSmall is CANON_NO for any other layout (flatEntry or the general path take it).
 */
@inline function canonParse(s: usize, e: usize): u64 {
  canonSmall = CANON_NO;
  if (e - s < 8 || load<u8>(s) != 0x08) return 0;
  let q = s + 1;
  let v = <u64>load<u8>(q); q++;
  if (v >= 0x80 && e - s >= 9) {
    // up to 8 bytes at once: the end is the first byte below 0x80, then the 7-bit groups
    // are packed pairwise (the entry has 6 more bytes after vaddr, so the load stays inside)
    const w = load<u64>(s + 1);
    const stop = ~w & 0x8080808080808080;
    if (stop == 0) return 0; // 9 or 10 bytes
    let x = w & (stop ^ (stop - 1));
    x = ((x & 0x7f007f007f007f00) >> 1) | (x & 0x007f007f007f007f);
    x = ((x & 0x3fff00003fff0000) >> 2) | (x & 0x00003fff00003fff);
    v = ((x & 0x0fffffff00000000) >> 4) | (x & 0x000000000fffffff);
    q = s + 2 + <usize>(ctz(stop) >> 3);
  } else if (v >= 0x80) {
    v &= 0x7f;
    let sh: u64 = 7;
    while (true) {
      if (q >= e || sh >= 70) return 0;
      const b = <u64>load<u8>(q); q++;
      v |= (b & 0x7f) << sh;
      if (b < 0x80) break;
      sh += 7;
    }
  }
  if (e - q < 6 || load<u8>(q) != 0x10) return 0;
  const c = <u32>load<u8>(q, 1);
  q += 2;
  let ip: u32 = 0xff;
  if (load<u8>(q) == 0x18) { ip = <u32>load<u8>(q, 1); q += 2; if (e - q < 4 || ip >= 0x80) return 0; }
  if (load<u8>(q) != 0x20 || load<u8>(q, 2) != 0x28 || q + 4 != e) return 0;
  const f = <u32>load<u8>(q, 1); const np = <u32>load<u8>(q, 3);
  if ((c | f | np) >= 0x80) return 0;
  canonSmall = c | (f << 8) | (np << 16) | (ip << 24);
  return v;
}

/** canonParse's entry in compact mode; false when it is not one (flatEntry then takes it). */
@inline function canonEntry(s: usize, e: usize): bool {
  const v = canonParse(s, e);
  const sm = canonSmall;
  if (sm == CANON_NO) return false;
  const c = sm & 0xff, f = (sm >> 8) & 0xff, np = (sm >> 16) & 0xff, ip = sm >> 24;
  if (modeBig && v > 9007199254740991) return false;
  ensure(FLAT_RESERVE);
  let o = outPtr + outLen;
  o = keyAt(o, 1, 0); o = decAt(o, v);
  o = keyAt(o, 2, 1); o = dec7At(o, c);
  if (ip != 0xff) {
    o = keyAt(o, 3, 1);
    if (ip) { store<u32>(o, 0x65757274); o += 4; }
    else { store<u32>(o, 0x736c6166); store<u8>(o, 0x65, 4); o += 5; }
  }
  o = keyAt(o, 4, 1); o = dec7At(o, f);
  o = keyAt(o, 5, 1); o = dec7At(o, np);
  store<u8>(o, 0x7d);
  outLen = o + 1 - outPtr;
  return true;
}

// Decimal digits without divisions (slow, and baseline code keeps them): quotients by
// 100, 10^4 and 10^8 are multiply-and-shift with the constants compilers use (exact for
// every u32), two digits at a time from the "00".."99" table.
@inline function div100(a: u32): u32 { return <u32>((<u64>a * 1374389535) >> 37); }
@inline function div1e4(w: u32): u32 { return <u32>((<u64>w * 3518437209) >> 45); }
@inline function div1e8(w: u32): u32 { return <u32>((<u64>w * 1441151881) >> 57); }
@inline function pair(o: usize, d: u32): void { store<u16>(o, load<u16>(pairs + (<usize>d << 1))); }

/** a (< 10^4) as 1..4 digits at o; returns the end. */
@inline function dec4At(o: usize, a: u32): usize {
  if (a < 100) {
    if (a < 10) { store<u8>(o, <u8>(48 + a)); return o + 1; }
    pair(o, a); return o + 2;
  }
  const q = div100(a); const r = a - q * 100;
  if (q < 10) { store<u8>(o, <u8>(48 + q)); pair(o + 1, r); return o + 3; }
  pair(o, q); pair(o + 2, r); return o + 4;
}

/** a (< 10^4) as exactly 4 digits at o. */
@inline function dec4FixedAt(o: usize, a: u32): void {
  const q = div100(a); pair(o, q); pair(o + 2, a - q * 100);
}

/** w (< 10^8) as exactly 8 digits at o. */
@inline function dec8At(o: usize, w: u32): void {
  const a = div1e4(w); dec4FixedAt(o, a); dec4FixedAt(o + 4, w - a * 10000);
}

/** w as decimal digits at o; returns the end. */
@inline function dec32At(o: usize, w: u32): usize {
  if (w < 10000) return dec4At(o, w);
  if (w < 100000000) { const a = div1e4(w); o = dec4At(o, a); dec4FixedAt(o, w - a * 10000); return o + 4; }
  const t = div1e8(w); o = dec4At(o, t); dec8At(o, w - t * 100000000); return o + 8;
}

/** v as decimal digits at o (room for 20); returns the end. */
@inline function decAt(o: usize, v: u64): usize {
  if (v <= 0xffffffff) return dec32At(o, <u32>v);
  if (v < 9007199254740992) return dec53At(o, v);
  return dec64At(o, v);
}
/** v (2^32 .. 2^53) as decimal digits at o; returns the end. */
@inline function dec53At(o: usize, v: u64): usize {
  // hi = v / 10^8 through f64 (v is exact below 2^53; the product is off by at most one)
  let hi = <u64>(<f64>v * 1e-8);
  let lo = <i64>(v - hi * 100000000);
  if (lo < 0) { hi--; lo += 100000000; } else if (lo >= 100000000) { hi++; lo -= 100000000; }
  o = dec32At(o, <u32>hi); // hi < 2^53 / 10^8 < 10^8
  dec8At(o, <u32>lo);
  return o + 8;
}
function dec64At(o: usize, v: u64): usize {
  if (v < 9007199254740992) return dec53At(o, v);
  const hi = v / 100000000;
  o = hi > 0xffffffff ? dec64At(o, hi) : dec32At(o, <u32>hi);
  dec8At(o, <u32>(v - hi * 100000000));
  return o + 8;
}

/**
 * Emit the entry whose message bytes are s..e through the flat table, after ", ".
 * Returns false (having written nothing) when the general path must print it.
 */
function flatEntry(s: usize, e: usize): bool {
  ensure(FLAT_RESERVE);
  const o0 = outPtr + outLen;
  let o = o0;
  let p = s;
  let last: u32 = 0;
  let slot: usize = 0; // 0 for the first field, then FLAT_SLOT
  while (p < e) {
    const t = <u32>load<u8>(p);
    if (t & 0x87) return false;       // not a varint, or a tag of more than one byte
    const num = t >> 3;
    if (num <= last) return false;     // out of order or repeated
    const kind = load<u8>(flatTab + num);
    if (kind == FK_NONE) return false;
    p++;
    if (p >= e) return false;
    let v = <u64>load<u8>(p); p++;
    if (v >= 0x80) {
      v &= 0x7f;
      let sh: u64 = 7;
      while (true) {
        if (p >= e || sh >= 70) return false;
        const b = <u64>load<u8>(p); p++;
        v |= (b & 0x7f) << sh;
        if (b < 0x80) break;
        sh += 7;
      }
    }
    const k = flatKeys + <usize>num * (2 * FLAT_SLOT) + slot;
    v128.store(o, v128.load(k)); v128.store(o, v128.load(k, 16), 16);
    o += <usize>load<u8>(flatTab + 16 + <usize>num * 2 + (slot ? 1 : 0));
    slot = FLAT_SLOT;
    last = num;
    if (kind == FK_U64) {
      if (modeBig && v > 9007199254740991) return false;
      o = decAt(o, v);
    } else if (kind == FK_U32) {
      o = dec32At(o, <u32>v);
    } else if (v) { store<u32>(o, 0x65757274); o += 4; }  // true
    else { store<u32>(o, 0x736c6166); store<u8>(o, 0x65, 4); o += 5; } // false
  }
  if (!slot) { store<u32>(o, 0x7d7b202c); o += 4; } // ", {}"
  else { store<u8>(o, 0x7d); o++; }
  outLen += o - o0;
  return true;
}

/**
 * Emit the whole entries at p..end through the flat table while they are flat; returns
 * where it stopped (end, an incomplete entry, or one for the general path). A small
 * function of its own, so that V8 tiers it up to optimized code after a few thousand
 * entries (a Wasm call never switches code while it runs; the next call does).
 */
function flatRun(p: usize, end: usize): usize {
  let n: u32 = 0;
  while (end - p >= 4) {
    const size = <usize>load<u32>(p);
    if (size > end - p - 4) break;
    if (!(canonOn && canonEntry(p + 4, p + 4 + size)) && !flatEntry(p + 4, p + 4 + size)) break;
    p += 4 + size;
    n++;
  }
  emitted += n;
  return p;
}
