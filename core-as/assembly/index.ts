// Entry of the Wasm core. One line per module; each module prefixes its exports
// (codec_*, xxh_*, lz4_*, arc_*, val_*, diff_*, mem_*, plan_*).
export function core_version(): i32 { return 1; }
export * from './codec';
export * from './plan';
export * from './xxh64';
export * from './lz4';
export * from './archive';
export * from './validate';
export * from './diff';
export * from './memsearch';
