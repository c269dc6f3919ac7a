// Image API used by every other part of tscr (dump, restore, offline tools).
// OWNER: codec (issue 2). Built on the Wasm codec (core-as/assembly/codec.ts),
// driven by the one schema table (core-as/schema). Never loads the shim.
//
// An image in memory has exactly the shape of crit's JSON (`crit decode --pretty`):
//   { magic: 'PSTREE', entries: [ { pid: 1, ppid: 0, ... }, ... ] }
// - enums are their names ('X86_64'), flags fields are 'A | B' strings,
//   hex fields are '0x..' strings, bytes are base64 strings (Python's encodebytes,
//   a newline every 76 chars), ip addresses are strings, devices 'major:minor',
//   exactly as crit prints them. On encode, plain numbers are accepted everywhere
//   a hex/flags/dev string is (and integer strings like "0x1f" everywhere).
// - 64-bit integers that do not fit a double exactly are BigInt in memory and
//   exact digits in JSON text (numbers otherwise). BigInt (or digit strings) are
//   accepted on encode.
// - Extra payloads that follow an entry (pipe data, socket queues, TCP queues,
//   ghost file contents) are in `entry.extra` as crit has them.
// - The first pagemap entry is the pagemap head ({pages_id}), as in crit.
// - Unknown protobuf fields are kept under `entry._unknown` (base64 of their raw
//   bytes) and written back; images of an unknown kind decode to
//   { magic: '0x<hex>', entries: [{ _raw: base64 of everything after the magic }] }.
// - Raw files (pages-*.img, ifaddr, route, tmpfs tarballs, ...) have no magic and
//   are not decodable; imageKindOf() tells them apart by name.
//
// API
//   decodeImage(bytes, {file?}): Image             crit --pretty shape, BigInt for big ints
//   encodeImage(img, {file?}): Uint8Array          byte-identical for decoded images
//   decodeToJSON(bytes, {pretty?, file?}): string  the exact text crit decode [--pretty] prints
//   encodeFromJSON(text, {file?}): Uint8Array      crit encode
//   readImage(path): Image; writeImage(path, img)
//   imageKindOf(fileName): KindDef | null          by CRIU's file name patterns
//   imageInfo(bytes, {file?}): {magic, count}      crit info
//   encodeFileFromJSON(path, write)                crit encode of a JSON file of any size, in chunks
//   decodeFileToJSON(path, write, {pretty?})       streams any size in chunks (write gets
//                                                  Uint8Array views valid only during the call)
//   forEachEntry(path, fn, {batch?})               streams decoded entries in batches (e.g.
//                                                  a huge pagemap) without holding the file
//   readPagemap(path|bytes): Pagemap               a pagemap as typed-array columns (vaddr,
//                                                  nrPages, flags), streamed, no objects
//   encodePagemap({pagesId, vaddr, nrPages, flags}) the inverse, CRIU 4.2's exact bytes
// Errors are TscrError (E_TRUNCATED, E_BAD_MAGIC, E_BAD_VARINT, E_BAD_LENGTH, E_BAD_WIRE,
// E_TOO_LARGE, E_BAD_JSON, E_CORRUPT) naming the file, the image kind and the byte offset.

import { closeSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { allocBytes, core, passBytes, release, takeString } from '../core-as/host.ts';
import { TscrError, type ErrorCode } from './errors.ts';
import { KINDS, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC } from '../core-as/schema/kinds.ts';
import type { KindDef } from '../core-as/schema/types.ts';
import { preadFull } from './fsread.ts';

export interface Image {
  magic: string;
  entries: any[];
}
export type { KindDef };
// Typed views of entries, generated from the schema: e.g. `img.entries as ImageEntries['PSTREE'][]`.
export type { ImageEntries, ImageMagic, TypedImage } from './image-types.ts';

export interface CodecOptions { file?: string }
/** raw: plain numbers instead of crit's --pretty display forms (like crit's library without pretty). */
export interface DecodeOptions extends CodecOptions { raw?: boolean }

// ------------------------------------------------------------------ kinds

const kindByName = new Map<string, number>(KINDS.map((k, i) => [k.name, i]));
const kindByMagic = new Map<number, number>();
KINDS.forEach((k, i) => { if (k.magic && !kindByMagic.has(k.magic)) kindByMagic.set(k.magic, i); });

let patterns: [RegExp, KindDef][] | null = null;
/** The image kind a file name belongs to, by CRIU's naming (core-123.img -> CORE), or null. */
export function imageKindOf(fileName: string): KindDef | null {
  if (!patterns) {
    patterns = [];
    for (const k of KINDS) for (const f of k.files) {
      const re = f.replace(/[.+]/g, (c) => '\\' + c).replace('%u', '\\d+').replace('%x', '[0-9a-f]+').replace('%s', '[a-z]+');
      patterns.push([new RegExp(`^${re}$`), k]);
    }
    // more specific patterns first (pagemap-shmem-N before pagemap-N etc.)
    patterns.sort((a, b) => b[0].source.length - a[0].source.length);
  }
  const name = basename(fileName);
  for (const [re, k] of patterns) if (re.test(name)) return k;
  return null;
}

/** The kind definition for a crit magic name ('PSTREE'), or null. */
export function kindDef(name: string): KindDef | null {
  const i = kindByName.get(name);
  return i === undefined ? null : KINDS[i];
}

// ------------------------------------------------------------------ core plumbing

let ready = false;
function codec() {
  const ex = core();
  if (!ready) {
    // the schema descriptor is embedded in core.wasm at build time (scripts/build.mjs)
    if (ex.codec_init_builtin() < 0) throw new TscrError('E_INTERNAL', 'the Wasm core was built without the codec schema', { hint: 'run `node scripts/build.mjs core`' });
    ready = true;
  }
  return ex;
}

const ERR_CODES: Record<number, ErrorCode> = {
  1: 'E_TRUNCATED', 2: 'E_BAD_VARINT', 3: 'E_BAD_LENGTH', 4: 'E_BAD_WIRE', 5: 'E_TOO_LARGE', 6: 'E_BAD_JSON', 7: 'E_CORRUPT',
};
const HINTS: Partial<Record<ErrorCode, string>> = {
  E_TRUNCATED: 'the image file is cut short; re-copy it or dump again',
  E_BAD_VARINT: 'the image is corrupt at this offset; re-copy it or dump again',
  E_BAD_LENGTH: 'the image is corrupt at this offset; re-copy it or dump again',
  E_BAD_WIRE: 'the image is corrupt, or was written for another image kind',
  E_TOO_LARGE: 'the image is corrupt at this offset (a size field is absurd)',
  E_BAD_JSON: 'fix the JSON at this offset; it must have the shape `crit decode` prints',
  E_CORRUPT: 'the image is corrupt at this offset',
};

function coreError(kind: string | undefined, file: string | undefined, base: number, what: string): TscrError {
  const ex = core();
  const code = ERR_CODES[ex.codec_err_code()] ?? 'E_CORRUPT';
  const off = base + (ex.codec_err_offset() >>> 0);
  const msg = takeString(ex.codec_err_msg());
  return new TscrError(code, `${what}: ${msg}`, { file, kind, offset: off, hint: HINTS[code] });
}

/** A trap or abort inside the core is a bug in tscr; report it with the location. */
function guard<T>(kind: string, file: string | undefined, offset: number, fn: () => T): T {
  try { return fn(); } catch (e) {
    if (e instanceof TscrError) throw e;
    throw new TscrError('E_INTERNAL', `codec failure (${(e as Error)?.message ?? e})`, { file, kind, offset, hint: 'this is a bug in tscr; please report it with the image' });
  }
}

function outView(): Uint8Array {
  const ex = core();
  return new Uint8Array(ex.memory.buffer, ex.codec_out_ptr() >>> 0, ex.codec_out_len() >>> 0);
}

// ------------------------------------------------------------------ header

interface Header { kindIdx: number; kind: KindDef | null; magicName: string; headerLen: number; m2: number }

function readHeader(b: Uint8Array, file?: string): Header {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 4) {
    throw new TscrError('E_TRUNCATED', `the file is ${b.length} bytes long, too short for an image magic`, { file, offset: 0, hint: 'the image is empty or cut short' });
  }
  const m1 = dv.getUint32(0, true);
  let m2 = m1, headerLen = 4;
  if (m1 === IMG_COMMON_MAGIC || m1 === IMG_SERVICE_MAGIC) {
    if (b.length < 8) throw new TscrError('E_TRUNCATED', 'the file ends after the first magic word', { file, offset: 4, hint: 'the image is cut short' });
    m2 = dv.getUint32(4, true);
    headerLen = 8;
  }
  const idx = kindByMagic.get(m2);
  if (idx === undefined) {
    if (headerLen === 8) return { kindIdx: -1, kind: null, magicName: '0x' + m2.toString(16).padStart(8, '0'), headerLen, m2 };
    const byName = file ? imageKindOf(file) : null;
    const raw = byName?.layout === 'raw';
    throw new TscrError('E_BAD_MAGIC', `unknown magic 0x${m1.toString(16).padStart(8, '0')}: not a CRIU image`, {
      file, offset: 0, kind: byName?.name,
      hint: raw ? `${byName!.name} files hold raw data with no magic; they are not decodable (pages are read through the pagemap)`
        : 'is this a CRIU image? raw page files (pages-*.img) cannot be decoded',
    });
  }
  return { kindIdx: idx, kind: KINDS[idx], magicName: KINDS[idx].name, headerLen, m2 };
}

function headerBytes(kind: KindDef | null, magicValue: number): Uint8Array {
  const prefix = kind ? kind.prefix : 'common';
  const out = new Uint8Array(prefix === 'none' ? 4 : 8);
  const dv = new DataView(out.buffer);
  if (prefix === 'none') dv.setUint32(0, magicValue, true);
  else { dv.setUint32(0, prefix === 'service' ? IMG_SERVICE_MAGIC : IMG_COMMON_MAGIC, true); dv.setUint32(4, magicValue, true); }
  return out;
}

// ------------------------------------------------------------------ decode (streaming core)

interface Source {
  size: number;
  read(pos: number, len: number): Uint8Array;
  /** Copy up to dst.length bytes at pos into dst (a view of Wasm memory); returns the count. */
  readInto(pos: number, dst: Uint8Array): number;
}

function memSource(bytes: Uint8Array): Source {
  return {
    size: bytes.length,
    read: (pos, len) => bytes.subarray(pos, pos + len),
    readInto(pos, dst) { const b = bytes.subarray(pos, pos + dst.length); dst.set(b); return b.length; },
  };
}

function fileSource(fd: number): Source {
  const size = fstatSync(fd).size;
  return {
    size,
    read(pos, len) {
      const b = Buffer.allocUnsafe(len);
      return b.subarray(0, preadFull(fd, b, pos, len));
    },
    readInto: (pos, dst) => preadFull(fd, dst, pos),
  };
}

const F_VALUES = 1, F_INDENT = 2, F_BIG = 4, F_LAST = 8;
const CHUNK = 256 << 10;
// decodeEntries starts with small chunks and doubles them up to CHUNK: a Wasm call runs
// the code it started with to its end, so V8 can only switch the hot loop (e.g. the
// pagemap's flat emitter) from baseline to optimized code between calls
const FIRST_CHUNK = 16 << 10;
const INDENT1 = '\n    ';

function b64(b: Uint8Array): string {
  // Python base64.encodebytes: 76 chars per line, each ending in \n
  const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < s.length; i += 76) out += s.slice(i, i + 76) + '\n';
  return out;
}

/**
 * Decode entries from src, calling sink(view, index, count) with the JSON text of each
 * chunk (entries separated as in the final document). Returns the header and count.
 */
function decodeEntries(src: Source, file: string | undefined, flags: number,
  sink: (view: Uint8Array, firstIndex: number, count: number) => void, onHeader: (h: Header) => void,
  onProgress?: (done: number, total: number) => void): { h: Header; count: number } {
  const head = src.read(0, Math.min(8, src.size));
  const h = readHeader(head, file);
  onHeader(h);
  if (h.kindIdx < 0) return { h, count: 1 };
  if (h.kind!.layout === 'raw') throw new TscrError('E_BAD_MAGIC', `${h.kind!.name} images hold raw data and have no entries`, { file, kind: h.kind!.name, offset: 0 });
  const ex = codec();
  let pos = h.headerLen;
  let index = 0;
  let base = FIRST_CHUNK;
  let chunk = base;
  // one input buffer in Wasm memory, read into directly (grown when an entry needs more)
  let cap = Math.min(Math.max(chunk, 4096), src.size - pos);
  let p = allocBytes(cap);
  try {
    while (pos < src.size) {
      const want = Math.min(chunk, src.size - pos);
      if (want > cap) { release(p); p = 0; cap = want; p = allocBytes(cap); }
      const got = src.readInto(pos, new Uint8Array(ex.memory.buffer, p, want));
      const last = pos + got >= src.size;
      let rc: number;
      try {
        rc = guard(h.kind!.name, file, pos, () => ex.codec_decode(h.kindIdx, p, got, index, flags | (last ? F_LAST : 0)));
        if (rc < 0) throw coreError(h.kind!.name, file, pos, `cannot decode entry #${index + ex.codec_count()}`);
        const n = ex.codec_count();
        if (n > 0) sink(outView(), index, n);
        index += n;
      } finally { ex.codec_out_reset(); }
      if (rc === 0) {
        const needRaw = ex.codec_need();
        const toEof = needRaw === 0xffffffffffffffffn || needRaw === -1n;
        const need = toEof ? src.size - pos : Number(needRaw);
        if (need > src.size - pos) {
          throw new TscrError('E_TRUNCATED', `entry #${index} needs ${need} bytes but only ${src.size - pos} remain in the file`,
            { file, kind: h.kind!.name, offset: pos, hint: HINTS.E_TRUNCATED });
        }
        chunk = Math.max(chunk * 2, need);
        continue;
      }
      pos += rc;
      base = Math.min(base * 2, CHUNK);
      chunk = base;
      onProgress?.(pos, src.size);
    }
  } finally { release(p); }
  return { h, count: index };
}

function unknownKindEntries(src: Source, h: Header): any[] {
  return [{ _raw: b64(src.read(h.headerLen, src.size - h.headerLen)) }];
}

/** Text of the whole crit JSON document, written in pieces through write(). */
function decodeToSink(src: Source, file: string | undefined, pretty: boolean, write: (s: string | Uint8Array) => void,
  onProgress?: (done: number, total: number) => void): void {
  const flags = pretty ? F_VALUES | F_INDENT : 0;
  let any = false;
  const { h } = decodeEntries(src, file, flags, (view) => { any = true; write(view); }, (h) => {
    write(pretty ? `{${INDENT1}"magic": "${h.magicName}",${INDENT1}"entries": [` : `{"magic": "${h.magicName}", "entries": [`);
  }, onProgress);
  if (h.kindIdx < 0) {
    const raw = JSON.stringify(unknownKindEntries(src, h)[0]._raw);
    write(pretty ? `\n        {\n            "_raw": ${raw}\n        }\n    ]\n}` : `{"_raw": ${raw}}]}`);
    return;
  }
  write(pretty ? (any ? '\n    ]\n}' : ']\n}') : ']}');
}

function viewText(v: Uint8Array): string {
  // ensure_ascii output: every byte is ASCII
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).latin1Slice(0, v.byteLength);
}

/** crit decode [--pretty]: the exact JSON text (no trailing newline). */
export function decodeToJSON(bytes: Uint8Array, opts: CodecOptions & { pretty?: boolean } = {}): string {
  const parts: string[] = [];
  decodeToSink(memSource(bytes), opts.file, Boolean(opts.pretty), (s) => parts.push(typeof s === 'string' ? s : viewText(s)));
  return parts.join('');
}

/** Stream a file of any size to JSON text; write() gets strings or views valid only during the call. */
export function decodeFileToJSON(path: string, write: (s: string | Uint8Array) => void,
  opts: { pretty?: boolean; onProgress?: (done: number, total: number) => void } = {}): void {
  const fd = openFile(path);
  try { decodeToSink(fileSource(fd), path, Boolean(opts.pretty), write, opts.onProgress); } finally { closeSync(fd); }
}

function reviveBig(_k: string, v: unknown): unknown {
  if (typeof v === 'string' && v.charCodeAt(0) === 0 && /^\0-?\d+$/.test(v)) return BigInt(v.slice(1));
  return v;
}

function parseChunk(view: Uint8Array, first: number): any[] {
  let text = viewText(view);
  if (first > 0) text = text.slice(2); // leading ", "
  const s = '[' + text + ']';
  return s.includes('"\\u0000') ? JSON.parse(s, reviveBig) : JSON.parse(s);
}

/** Decode an image into crit's --pretty shape. */
export function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Image {
  const src = memSource(bytes);
  const entries: any[] = [];
  let magic = '';
  const { h } = decodeEntries(src, opts.file, (opts.raw ? 0 : F_VALUES) | F_BIG, (view, first) => {
    for (const e of parseChunk(view, first)) entries.push(e);
  }, (h) => { magic = h.magicName; });
  if (h.kindIdx < 0) return { magic, entries: unknownKindEntries(src, h) };
  return { magic, entries };
}

/** Stream decoded entries of a file in batches (as decodeImage shapes them). */
export function forEachEntry(path: string, fn: (entries: any[], firstIndex: number, magic: string) => void): string {
  const fd = openFile(path);
  let magic = '';
  try {
    const src = fileSource(fd);
    const { h } = decodeEntries(src, path, F_VALUES | F_BIG, (view, first) => fn(parseChunk(view, first), first, magic), (h) => { magic = h.magicName; });
    if (h.kindIdx < 0) fn(unknownKindEntries(src, h), 0, magic);
  } finally { closeSync(fd); }
  return magic;
}

/** crit info: magic and entry count (pagemap head not counted, like crit). */
export function imageInfo(bytes: Uint8Array, opts: CodecOptions = {}): { magic: string; count: number } {
  let magic = '';
  const { h, count } = decodeEntries(memSource(bytes), opts.file, 0, () => {}, (h) => { magic = h.magicName; });
  return { magic, count: h.kind?.layout === 'pagemap' ? Math.max(0, count - 1) : count };
}

// ------------------------------------------------------------------ encode

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function unknownKindBytes(magic: string, entries: any[], file?: string, offset?: number): Uint8Array {
  const v = Number.parseInt(magic, 16);
  const raw = entries?.[0]?._raw;
  if (!Number.isFinite(v) || typeof raw !== 'string') {
    throw new TscrError('E_BAD_JSON', `unknown image magic "${magic}"`, { file, offset, hint: 'use a magic name crit prints (e.g. "PSTREE"), or "0x<hex>" with one {"_raw": base64} entry' });
  }
  return concat([headerBytes(null, v >>> 0), Buffer.from(raw, 'base64')]);
}

/** Encode the entries list at Wasm address ptr (len bytes of JSON text). */
function encodeAt(kindName: string, ptr: number, len: number, base: number, file: string | undefined, offsetBase: number, seq = false): Uint8Array {
  const idx = kindByName.get(kindName)!;
  const ex = codec();
  try {
    if (guard(kindName, file, offsetBase, () => ex.codec_encode(idx, ptr, len, base, seq ? 1 : 0)) < 0) {
      throw coreError(kindName, file, offsetBase, `cannot encode entry #${base + ex.codec_count()}`);
    }
    return outView().slice();
  } finally { ex.codec_out_reset(); }
}

function encodeEntriesText(kindName: string, text: Uint8Array, base: number, file: string | undefined, offsetBase: number): Uint8Array {
  const p = passBytes(text);
  try { return encodeAt(kindName, p, text.length, base, file, offsetBase); } finally { release(p); }
}

function checkKind(magic: unknown, file?: string, offset?: number): KindDef | null {
  if (typeof magic !== 'string') throw new TscrError('E_BAD_JSON', '"magic" must be a string', { file, offset });
  if (/^0x[0-9a-f]+$/i.test(magic)) return null;
  const k = kindDef(magic);
  if (!k) throw new TscrError('E_BAD_JSON', `unknown image magic "${magic}"`, { file, offset, hint: 'use a magic name crit prints, e.g. "PSTREE" or "CORE"' });
  if (k.layout === 'raw') throw new TscrError('E_BAD_JSON', `${magic} images are raw data and cannot be encoded from JSON`, { file, offset });
  return k;
}

const HEAD_RE = /^\s*\{\s*"magic"\s*:\s*"([A-Z0-9_]+)"\s*,\s*"entries"\s*:\s*\[/;
function fastShape(b: Uint8Array): { kind: KindDef; es: number; ee: number } | null {
  const head = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, 256)).toString('latin1');
  const m = HEAD_RE.exec(head);
  const kind = m ? kindDef(m[1]) : null;
  if (!m || !kind || kind.layout === 'raw') return null;
  let e = b.length - 1;
  const ws = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
  while (e >= 0 && ws(b[e])) e--;
  if (e < 0 || b[e] !== 0x7d) return null;
  e--;
  while (e >= 0 && ws(b[e])) e--;
  if (e < 0 || b[e] !== 0x5d) return null;
  const es = m[0].length - 1;
  return e + 1 > es ? { kind, es, ee: e + 1 } : null;
}

/** crit encode: JSON text (as crit decode prints it, pretty or not) to image bytes. */
export function encodeFromJSON(text: string | Uint8Array, opts: CodecOptions = {}): Uint8Array {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const ex = codec();
  // the usual shape ({"magic": "X", "entries": [...]}, as crit and tscr print it) needs no
  // locating pass: the entries list runs to the last ']' (the encoder validates all of it)
  const fast = fastShape(bytes);
  if (fast) {
    const p = passBytes(bytes);
    try {
      const body = encodeAt(fast.kind.name, p + fast.es, fast.ee - fast.es, 0, opts.file, fast.es);
      return concat([headerBytes(fast.kind, fast.kind.magic), body]);
    } catch (e) {
      if (!(e instanceof TscrError)) throw e;
      // not the simple shape after all (e.g. more keys after "entries"): locate properly below
    } finally { release(p); }
  }
  const p = passBytes(bytes);
  try {
    if (guard('JSON', opts.file, 0, () => ex.codec_locate(p, bytes.length)) < 0) throw coreError(undefined, opts.file, 0, 'cannot read the JSON');
    const ms = ex.codec_loc(0) >>> 0;
    const me = ex.codec_loc(1) >>> 0;
    const es = ex.codec_loc(2) >>> 0, ee = ex.codec_loc(3) >>> 0;
    const magic = Buffer.from(bytes.buffer, bytes.byteOffset + ms, me - ms).toString('utf8');
    const k = checkKind(magic, opts.file, ms);
    if (!k) {
      let entries: any;
      try { entries = JSON.parse(Buffer.from(bytes.subarray(es, ee)).toString('utf8')); } catch (e: any) {
        throw new TscrError('E_BAD_JSON', `bad entries of an unknown image kind: ${e?.message}`, { file: opts.file, offset: es });
      }
      return unknownKindBytes(magic, entries, opts.file, ms);
    }
    const body = encodeAt(k.name, p + es, ee - es, 0, opts.file, es);
    return concat([headerBytes(k, k.magic), body]);
  } finally { release(p); }
}

/**
 * crit encode of a JSON file of any size: entries are cut from the text in chunks and
 * encoded run by run, so Wasm memory never holds the whole document. Needs "magic"
 * before "entries" (as crit and tscr print them); otherwise the whole text is read.
 * write() gets views valid only during the call.
 */
export function encodeFileFromJSON(path: string, write: (b: Uint8Array) => void): void {
  const fd = openFile(path);
  try {
    const src = fileSource(fd);
    const head = Buffer.from(src.read(0, Math.min(src.size, 4096))).toString('latin1');
    const m = /^\s*\{\s*"magic"\s*:\s*"([A-Z0-9_]+)"\s*,\s*"entries"\s*:\s*\[/.exec(head);
    const k = m ? kindDef(m[1]) : null;
    if (!m || !k || k.layout === 'raw') {
      write(encodeFromJSON(src.read(0, src.size), { file: path }));
      return;
    }
    write(headerBytes(k, k.magic));
    const ex = codec();
    let pos = m[0].length;
    let base = 0;
    let chunk = CHUNK * 4;
    let ended = false;
    while (!ended) {
      if (pos >= src.size) throw new TscrError('E_BAD_JSON', 'the text ends inside the entries list', { file: path, offset: pos, kind: k.name });
      const buf = src.read(pos, Math.min(chunk, src.size - pos));
      const atEof = pos + buf.length >= src.size;
      const p = passBytes(buf);
      try {
        const cut = ex.codec_split(p, buf.length) >>> 0;
        ended = ex.codec_split_ended() === 1;
        if (cut === 0 && !ended) {
          if (atEof) throw new TscrError('E_BAD_JSON', 'the text ends inside an entry', { file: path, offset: pos, kind: k.name });
          chunk *= 2;
          continue;
        }
        if (!/^\s*$/.test(Buffer.from(buf.subarray(0, cut)).toString('latin1'))) {
          write(encodeAt(k.name, p, cut, base, path, pos, true));
          base += ex.codec_count();
        }
        if (ended) {
          const rest = Buffer.from(src.read(pos + cut + 1, src.size - pos - cut - 1)).toString('latin1');
          if (!/^\s*\}\s*$/.test(rest)) throw new TscrError('E_BAD_JSON', 'unexpected text after the entries list', { file: path, offset: pos + cut + 1, kind: k.name });
        }
        pos += cut + 1;
      } finally { release(p); }
    }
  } finally { closeSync(fd); }
}

const bigReplacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/** Encode an image object (crit's shape; BigInt allowed) to bytes. */
export function encodeImage(img: Image, opts: CodecOptions = {}): Uint8Array {
  if (!img || typeof img !== 'object' || !Array.isArray(img.entries)) {
    throw new TscrError('E_BAD_JSON', 'an image must be an object {magic, entries: [...]}', { file: opts.file });
  }
  const k = checkKind(img.magic, opts.file);
  if (!k) return unknownKindBytes(img.magic, img.entries, opts.file);
  const parts: Uint8Array[] = [headerBytes(k, k.magic)];
  const BATCH = 8192;
  for (let i = 0; i < img.entries.length || (i === 0 && img.entries.length === 0); i += BATCH) {
    const slice = img.entries.slice(i, i + BATCH);
    const text = Buffer.from(JSON.stringify(slice, bigReplacer), 'utf8');
    parts.push(encodeEntriesText(k.name, text, i, opts.file, 0));
    if (img.entries.length === 0) break;
  }
  return concat(parts);
}

// ------------------------------------------------------------------ pagemap fast path

/** A pagemap as columns (no per-entry objects): for dump/restore of large memories. */
export interface Pagemap {
  pagesId: number;
  count: number;
  vaddr: Float64Array;     // exact: x86_64 user addresses are < 2^57
  nrPages: Float64Array;   // nr_pages, or compat_nr_pages in images that lack it
  flags: Uint32Array;      // PE_PARENT 1, PE_LAZY 2, PE_PRESENT 4
  inParent: Uint8Array;    // the old in_parent field (0/1)
}

function readVarint(b: Uint8Array, pos: number, end: number): [number, number] {
  let v = 0, mul = 1;
  for (let i = 0; i < 10 && pos < end; i++) {
    const c = b[pos++];
    v += (c & 0x7f) * mul;
    if (c < 0x80) return [v, pos];
    mul *= 128;
  }
  return [-1, pos];
}

// small loops in their own functions, so V8 optimizes them
function splitFlags(u32: Uint32Array, fl: Uint32Array, ip: Uint8Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) { fl[at + i] = u32[i * 6 + 4]; ip[at + i] = u32[i * 6 + 5]; }
}
function splitColumns(rec: Float64Array, a: Float64Array, b: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) { a[i] = rec[i * 3]; b[i] = rec[i * 3 + 1]; }
}

/** Read a pagemap image (path or bytes) into columns, streaming the file in chunks. */
export function readPagemap(input: string | Uint8Array, opts: CodecOptions = {}): Pagemap {
  const file = typeof input === 'string' ? input : opts.file;
  const fd = typeof input === 'string' ? openFile(input) : -1;
  try {
    const src = fd >= 0 ? fileSource(fd) : memSource(input as Uint8Array);
    const h = readHeader(src.read(0, Math.min(8, src.size)), file);
    if (h.kind?.layout !== 'pagemap') throw new TscrError('E_BAD_MAGIC', `not a pagemap image (magic ${h.magicName})`, { file, offset: 0, kind: h.magicName });
    const hb = src.read(h.headerLen, Math.min(src.size - h.headerLen, 64));
    if (hb.length < 4) throw new TscrError('E_TRUNCATED', 'the pagemap has no head entry', { file, offset: h.headerLen, kind: 'PAGEMAP', hint: HINTS.E_TRUNCATED });
    const hsize = new DataView(hb.buffer, hb.byteOffset, 4).getUint32(0, true);
    if (hsize + 4 > hb.length) throw new TscrError('E_BAD_LENGTH', `the pagemap head claims ${hsize} bytes`, { file, offset: h.headerLen, kind: 'PAGEMAP', hint: HINTS.E_BAD_LENGTH });
    let pagesId = 0;
    for (let p = 4; p < 4 + hsize;) {
      const [tag, p1] = readVarint(hb, p, 4 + hsize);
      const [v, p2] = readVarint(hb, p1, 4 + hsize);
      if (tag < 0 || v < 0 || (tag & 7) !== 0) throw new TscrError('E_BAD_WIRE', 'bad pagemap head', { file, offset: h.headerLen + p, kind: 'PAGEMAP', hint: HINTS.E_BAD_WIRE });
      if (tag >>> 3 === 1) pagesId = v;
      p = p2;
    }
    let cap = 1024, count = 0;
    let rec = new Float64Array(cap * 3); // vaddr, pages, (flags | inParent<<32) packed below
    let fl = new Uint32Array(cap), ip = new Uint8Array(cap);
    const ex = codec();
    let pos = h.headerLen + 4 + hsize;
    let chunk = CHUNK * 4;
    while (pos < src.size) {
      const buf = src.read(pos, Math.min(chunk, src.size - pos));
      const last = pos + buf.length >= src.size;
      const p = passBytes(buf);
      let rc: number;
      try {
        rc = guard('PAGEMAP', file, pos, () => ex.codec_pagemap(p, buf.length, last ? F_LAST : 0));
        if (rc < 0) throw coreError('PAGEMAP', file, pos, `cannot decode pagemap entry #${count + ex.codec_count() + 1}`);
        const n = ex.codec_count();
        if (count + n > cap) {
          while (count + n > cap) cap *= 2;
          const r2 = new Float64Array(cap * 3); r2.set(rec); rec = r2;
          const f2 = new Uint32Array(cap); f2.set(fl); fl = f2;
          const i2 = new Uint8Array(cap); i2.set(ip); ip = i2;
        }
        const o = ex.codec_out_ptr() >>> 0; // 16-byte aligned by the allocator
        const mem = ex.memory.buffer;
        rec.set(new Float64Array(mem, o, n * 3), count * 3);
        splitFlags(new Uint32Array(mem, o, n * 6), fl, ip, count, n);
        count += n;
        ex.codec_out_reset();
      } finally { release(p); }
      if (rc === 0) {
        const need = Number(ex.codec_need());
        if (need > src.size - pos) throw new TscrError('E_TRUNCATED', `pagemap entry needs ${need} bytes but only ${src.size - pos} remain`, { file, offset: pos, kind: 'PAGEMAP', hint: HINTS.E_TRUNCATED });
        chunk = Math.max(chunk * 2, need);
        continue;
      }
      pos += rc;
    }
    const vaddr = new Float64Array(count), nrPages = new Float64Array(count);
    splitColumns(rec, vaddr, nrPages, count);
    return { pagesId, count, vaddr, nrPages, flags: fl.slice(0, count), inParent: ip.slice(0, count) };
  } finally { if (fd >= 0) closeSync(fd); }
}

/** Encode a pagemap from columns; byte-identical to what CRIU 4.2 (and readPagemap's input) has. */
export function encodePagemap(pm: { pagesId: number; vaddr: ArrayLike<number>; nrPages: ArrayLike<number>; flags: ArrayLike<number>; inParent?: ArrayLike<number> }): Uint8Array {
  const n = pm.vaddr.length;
  if (pm.nrPages.length !== n || pm.flags.length !== n) throw new TscrError('E_BAD_JSON', 'pagemap columns differ in length');
  const k = kindDef('PAGEMAP')!;
  const parts: Uint8Array[] = [headerBytes(k, k.magic), encodeImage({ magic: 'PAGEMAP', entries: [{ pages_id: pm.pagesId }] }).subarray(8)];
  const ex = codec();
  const BATCH = 65536;
  for (let s = 0; s < n; s += BATCH) {
    const m = Math.min(BATCH, n - s);
    const recs = new Uint8Array(m * 24);
    const dv = new DataView(recs.buffer);
    for (let i = 0; i < m; i++) {
      const v = pm.vaddr[s + i], np = pm.nrPages[s + i], f = pm.flags[s + i];
      if (!(Number.isSafeInteger(v) && v >= 0 && Number.isSafeInteger(np) && np >= 0 && Number.isInteger(f) && f >= 0 && f <= 0xffffffff)) {
        throw new TscrError('E_BAD_JSON', `pagemap entry #${s + i + 1}: vaddr, nr_pages and flags must be non-negative integers`, { kind: 'PAGEMAP' });
      }
      dv.setFloat64(i * 24, v, true); dv.setFloat64(i * 24 + 8, np, true);
      dv.setUint32(i * 24 + 16, f, true); dv.setUint32(i * 24 + 20, pm.inParent?.[s + i] ? 1 : 0, true);
    }
    const p = passBytes(recs);
    try {
      ex.codec_pagemap_encode(p, m);
      parts.push(outView().slice());
      ex.codec_out_reset();
    } finally { release(p); }
  }
  return concat(parts);
}

// ------------------------------------------------------------------ files

function openFile(path: string): number {
  try { return openSync(path, 'r'); } catch (e: any) {
    throw new TscrError(e?.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `cannot open ${path}: ${e?.message ?? e}`, { file: path });
  }
}

export function readImage(path: string, opts: { raw?: boolean } = {}): Image {
  let b: Buffer;
  try { b = readFileSync(path); } catch (e: any) {
    throw new TscrError(e?.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `cannot read ${path}: ${e?.message ?? e}`, { file: path });
  }
  return decodeImage(b, { file: path, raw: opts.raw });
}

export function writeImage(path: string, img: Image): void {
  const bytes = encodeImage(img, { file: path });
  try { writeFileSync(path, bytes); } catch (e: any) {
    throw new TscrError('E_IO', `cannot write ${path}: ${e?.message ?? e}`, { file: path });
  }
}
