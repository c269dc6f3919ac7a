#!/bin/sh
":" //; unset NODE_EXTRA_CA_CERTS; exec node --v8-pool-size=2 "$0" "$@"
// Thin launcher (CommonJS, see bin/package.json: a CJS entry starts faster). The CLI
// is bundled by esbuild into dist/ at `npm install`. Commands that do not need the
// native shim (the offline ones) each have a self-contained fast-path file,
// dist/fast-<name>.cjs (scripts/build.mjs derives them from cli/commands/index.ts);
// everything else, and anything the fast path does not parse, runs the full CLI
// (dist/tscr.js, an ES module, yargs).
//
// Start-up is most of an offline command's time, so a fast-path file is compiled with
// a V8 code cache (dist/fast-<name>.cjs.<size>-<mtime>.v8cache, written after its first
// run when dist/ is writable): later runs skip parsing and compiling the functions the
// first run used. V8 rejects a cache made by another Node/V8 or other flags; the name
// ties it to the bundle's size and mtime, and the build deletes old ones.
//
// The second line is for sh (the #! line) and a no-op string for JavaScript: run as a
// program, tscr starts Node without NODE_EXTRA_CA_CERTS. Node reads and parses that
// certificate file at start-up, before any script runs (≈ 35 ms for Debian's 220 KB
// bundle, more than all of tscr's own start-up); tscr makes no TLS connections, so
// it never needs it. It also caps V8's background thread pool at 2 (Node's default is 4
// threads, started with the process: 1–6 ms of a short command here). `node bin/tscr.js ...`
// skips that line and behaves as before.
'use strict';
const cmd = process.argv[2];
const fs = require('fs');
const file = cmd && /^[a-z][a-z0-9-]*$/.test(cmd) ? `${__dirname}/../dist/fast-${cmd}.cjs` : null;
let st = null;
if (file) try { st = fs.statSync(file); } catch { /* not an offline command */ }
if (st) {
  const cacheFile = `${file}.${st.size}-${Math.floor(st.mtimeMs)}.v8cache`;
  let cached;
  try { cached = fs.readFileSync(cacheFile); } catch { /* first run */ }
  const vm = require('vm');
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(file, 'utf8')}\n})`,
    { filename: file, cachedData: cached });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, require('module').createRequire(file), mod, file, require('path').dirname(file));
  mod.exports.run(process.argv.slice(2)).then((rc) => {
    if (rc === null) return import('../dist/tscr.js');
    process.exitCode = rc;
    if (!cached || script.cachedDataRejected) {
      try {
        const tmp = `${cacheFile}.${process.pid}`;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch { /* read-only install: run without a cache */ }
    }
  });
} else {
  // `tscr dump` runs on a tracer thread (lib/tracer.ts, dist/worker.cjs): start that thread
  // now, so that its start-up overlaps the loading of the CLI (~30 ms); lib/tracer.ts adopts it.
  if (cmd === 'dump') {
    try {
      const { Worker } = require('worker_threads');
      const abort = new SharedArrayBuffer(4);
      const w = new Worker(`${__dirname}/../dist/worker.cjs`, { workerData: { abort } });
      w.unref();
      w.on('error', () => { /* the job reports it */ });
      globalThis.__tscrWarmTracer = { w, abort };
    } catch { /* no bundle: the CLI starts the thread itself */ }
  }
  import('../dist/tscr.js');
}
