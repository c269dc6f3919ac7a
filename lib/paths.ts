// Where tscr's built artefacts live. Every module that uses this sits exactly one
// directory below the package root, in source (lib/, core-as/, shim/) and when
// bundled (dist/), so '..' from the module's own URL is the root in both cases.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUILD = join(ROOT, 'build');
export const CORE_WASM = join(BUILD, 'core.wasm');
/** The page-path subset of the core over one shared memory (lib/archive-mt.ts). */
export const CORE_MT_WASM = join(BUILD, 'core-mt.wasm');
export const SHIM_SO = join(BUILD, 'libtscr.so');
export const STUB_BIN = join(BUILD, 'tscr-stub');
export const FIXTURES_BIN = join(BUILD, 'fixtures');
export const DIST = join(ROOT, 'dist');
