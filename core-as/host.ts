// The Wasm boundary. Loads build/core.wasm once (synchronously; it is small),
// exposes a typed exports interface, and turns AssemblyScript aborts into
// exceptions. Data crosses as (pointer, length): the host copies bytes in with
// passBytes() and copies results out with takeBytes(). Never keep a view over
// `memory.buffer`: it is detached whenever the module's memory grows.
//
// Conventions for core-as/assembly modules (see core-as/README.md):
// - exports are prefixed by module: codec_*, lz4_*, xxh_*, val_*, diff_*, plan_*
// - inputs are ArrayBuffers made by passBytes() (pinned until release())
// - outputs are ArrayBuffers (or null); the host copies them out with takeBytes()
// - errors: call coreFail(code, offset, msg) style helpers in assembly, or abort()

import { readFileSync } from 'node:fs';
import { CORE_WASM } from '../lib/paths.ts';
import { TscrError } from '../lib/errors.ts';

/** Runtime exports of the incremental AssemblyScript runtime. */
export interface RuntimeExports {
  memory: WebAssembly.Memory;
  __new(size: number, classId: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
  __collect(): void;
}

/**
 * The typed exports interface. Each module of core-as/assembly adds its
 * functions here (declared, not discovered), so the host can't call a typo.
 */
export interface CoreExports extends RuntimeExports {
  core_version(): number;
  // codec (issue 2): see core-as/assembly/codec.ts and lib/images.ts
  codec_init(desc: number): number;
  codec_init_builtin(): number;
  codec_decode(kind: number, buf: number, len: number, index: number, flags: number): number;
  codec_encode(kind: number, text: number, len: number, base: number, seq: number): number;
  codec_split(text: number, len: number): number;
  codec_pagemap(buf: number, len: number, flags: number): number;
  codec_pagemap_encode(src: number, n: number): number;
  codec_flat(on: number): number;
  codec_split_ended(): number;
  codec_locate(text: number, len: number): number;
  codec_loc(i: number): number;
  codec_count(): number;
  codec_need(): bigint;
  codec_out_ptr(): number;
  codec_out_len(): number;
  codec_out_reset(): void;
  codec_err_code(): number;
  codec_err_offset(): number;
  codec_err_msg(): number;
  /** restore plan (core-as/assembly/plan.ts): input words ArrayBuffer ptr -> output words ArrayBuffer ptr */
  plan_build(input: number): number;
  // xxh64.ts (archive): pointers are ArrayBuffer pointers from passBytes/allocBytes + byte offsets
  xxh_hash64(ptr: number, off: number, len: number, seed: bigint): bigint;
  xxh_new(seed: bigint): number;
  xxh_update(handle: number, ptr: number, off: number, len: number): void;
  xxh_digest(handle: number): bigint;
  xxh_free(handle: number): void;
  xxh_pages(ptr: number, off: number, n: number, outHashes: number, outZero: number): number;
  // lz4.ts (archive): LZ4 block format; decompress returns -(1+offset) on bad input
  lz4_bound(len: number): number;
  lz4_compress(src: number, srcOff: number, len: number, dst: number, dstOff: number, cap: number): number;
  lz4_decompress(src: number, srcOff: number, len: number, dst: number, dstOff: number, cap: number): number;
  lz4_compress_hc(src: number, srcOff: number, len: number, dst: number, dstOff: number, cap: number, attempts: number): number;
  // archive.ts (archive): verified blocks (docs/archive.md)
  arc_pack_bound(rawLen: number): number;
  /** pageHashes: 0, or the address of the u64 xxh64 of each page of the raw bytes (a page-hashed block) */
  arc_pack(src: number, srcOff: number, rawLen: number, dst: number, dstOff: number, cap: number, level: number, pageHashes: number): number;
  arc_unpack(src: number, srcOff: number, blockLen: number, dst: number, dstOff: number, cap: number): number;
  arc_last_detail(): number;
  // offline (issue 6): validate.ts, diff.ts, memsearch.ts (page hashes via xxh64.ts)
  val_frames(buf: number, mode: number, a: number, b: number, maxEntry: number, maxCount: number): number;
  val_ranges(vmas: number, pm: number): number;
  val_mm(buf: number): number;
  val_pagemap(buf: number): number;
  val_pagemap_extra(buf: number): number;
  diff_match(a: number, na: number, b: number, nb: number, out: number): number;
  mem_find(hptr: number, hlen: number, nptr: number, nlen: number, out: number, maxHits: number): number;
  [name: string]: unknown;
}

export class CoreAbort extends Error {
  constructor(message: string) { super(message); this.name = 'CoreAbort'; }
}

let instance: CoreExports | null = null;

function readAsString(ex: RuntimeExports, ptr: number): string {
  if (!ptr) return '';
  const mem = new Uint8Array(ex.memory.buffer);
  const byteLen = new Uint32Array(ex.memory.buffer, ptr - 4, 1)[0];
  let s = '';
  for (let i = 0; i < byteLen; i += 2) s += String.fromCharCode(mem[ptr + i] | (mem[ptr + i + 1] << 8));
  return s;
}

/** The loaded core. Throws a clear error if the Wasm was never built. */
export function core(): CoreExports {
  if (instance) return instance;
  let bytes: Buffer;
  try {
    bytes = readFileSync(CORE_WASM);
  } catch {
    throw new TscrError('E_NOT_FOUND', `the Wasm core is missing (${CORE_WASM})`, { hint: 'run `npm install` (or `npm run build`) in the tscr directory' });
  }
  const mod = new WebAssembly.Module(bytes);
  let ex!: CoreExports;
  const imports = {
    env: {
      abort(msg: number, file: number, line: number, col: number) {
        throw new CoreAbort(`core: ${readAsString(ex, msg)} at ${readAsString(ex, file)}:${line}:${col}`);
      },
      trace(msg: number, n: number, ...args: number[]) {
        process.stderr.write(`core trace: ${readAsString(ex, msg)} ${args.slice(0, n).join(', ')}\n`);
      },
      seed() { return Date.now(); },
    },
  };
  ex = new WebAssembly.Instance(mod, imports).exports as unknown as CoreExports;
  instance = ex;
  return ex;
}

/** Copy an AssemblyScript string (as returned by an export) into a JS string. */
export function takeString(ptr: number): string {
  return readAsString(core(), ptr);
}

/** AssemblyScript's class id of ArrayBuffer. */
const ARRAYBUFFER_ID = 1;

/** Copy bytes into a new pinned ArrayBuffer in Wasm memory; returns its pointer. release() it after use. */
export function passBytes(bytes: Uint8Array): number {
  const ex = core();
  const ptr = ex.__pin(ex.__new(bytes.length, ARRAYBUFFER_ID));
  new Uint8Array(ex.memory.buffer, ptr, bytes.length).set(bytes);
  return ptr;
}

/** Allocate a pinned, zeroed ArrayBuffer of n bytes in Wasm memory (for the core to fill). */
export function allocBytes(n: number): number {
  const ex = core();
  return ex.__pin(ex.__new(n, ARRAYBUFFER_ID));
}

/** Copy an ArrayBuffer returned by the core out of Wasm memory. */
export function takeBytes(ptr: number): Uint8Array {
  const ex = core();
  if (!ptr) return new Uint8Array(0);
  const len = new Uint32Array(ex.memory.buffer, ptr - 4, 1)[0];
  return new Uint8Array(ex.memory.buffer.slice(ptr, ptr + len));
}

/** Copy the UTF-8 bytes of an ArrayBuffer returned by the core into a JS string. */
export function takeText(ptr: number): string {
  const ex = core();
  if (!ptr) return '';
  const len = new Uint32Array(ex.memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(ex.memory.buffer, ptr, len).toString('utf8');
}

/** Unpin a buffer made by passBytes()/allocBytes(). */
export function release(ptr: number): void {
  if (ptr) core().__unpin(ptr);
}

/** Run fn with `bytes` copied into Wasm memory; always releases it. */
export function withBytes<T>(bytes: Uint8Array, fn: (ptr: number, len: number) => T): T {
  const ptr = passBytes(bytes);
  try { return fn(ptr, bytes.length); } finally { release(ptr); }
}
