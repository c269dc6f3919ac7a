#!/usr/bin/env node
// Thin launcher: the CLI is bundled by esbuild into dist/tscr.js at `npm install`.
import '../dist/tscr.js';
