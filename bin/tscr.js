#!/usr/bin/env node
// Thin launcher (CommonJS, see bin/package.json: a CJS entry starts faster). The CLI
// is bundled by esbuild into dist/ at `npm install`. Commands that do not need the
// native shim (the offline ones) each have a self-contained fast-path file,
// dist/fast-<name>.cjs (scripts/build.mjs derives them from cli/commands/index.ts);
// everything else, and anything the fast path does not parse, runs the full CLI
// (dist/tscr.js, an ES module, yargs).
'use strict';
const cmd = process.argv[2];
const fast = cmd && /^[a-z][a-z0-9-]*$/.test(cmd) ? `${__dirname}/../dist/fast-${cmd}.cjs` : null;
if (fast && require('fs').existsSync(fast)) {
  require(fast).run(process.argv.slice(2)).then((rc) => {
    if (rc === null) return import('../dist/tscr.js');
    process.exitCode = rc;
  });
} else {
  import('../dist/tscr.js');
}
