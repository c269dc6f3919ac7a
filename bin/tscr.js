#!/usr/bin/env node
// Thin launcher (CommonJS, see bin/package.json: a CJS entry starts faster). The CLI
// is bundled by esbuild into dist/ at `npm install`. crit-style commands take a
// one-file fast path (dist/fast.cjs); everything else, and anything the fast path
// does not parse, runs the full CLI (dist/tscr.js, an ES module).
'use strict';
const cmd = process.argv[2];
if (cmd === 'decode' || cmd === 'encode' || cmd === 'info' || cmd === 'show') {
  require('../dist/fast.cjs').runFast(process.argv.slice(2)).then((rc) => {
    if (rc === null) return import('../dist/tscr.js');
    process.exitCode = rc;
  });
} else {
  import('../dist/tscr.js');
}
