// Runs every test/**/*.test.ts in its own Node process (uvu inside), so a crash
// or a hung ptrace test cannot take the others down. Prints uvu's output, then
// one plain closing line that CI reads: "N passed, N failed".
// Usage: npm test [-- PATTERN ...]   (substring filter on the file path)
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const perFileTimeoutMs = Number(process.env.TSCR_TEST_TIMEOUT_MS ?? 15 * 60 * 1000);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = walk(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)));
let passed = 0, failed = 0, skipped = 0;
const failedFiles = [];

function runFile(file) {
  return new Promise((resolve) => {
    const rel = relative(root, file);
    process.stdout.write(`\n# ${rel}\n`);
    const child = spawn(process.execPath, ['--import', join(root, 'scripts/ts-register.mjs'), file], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSCR_TEST: '1' },
    });
    let text = '';
    child.stdout.on('data', (d) => { text += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { process.stderr.write(d); });
    const timer = setTimeout(() => { process.stdout.write(`\n!! ${rel}: timed out after ${perFileTimeoutMs} ms\n`); child.kill('SIGKILL'); }, perFileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const num = (label) => { const m = [...text.matchAll(new RegExp(`${label}:\\s+(\\d+)`, 'g'))]; return m.reduce((a, x) => a + Number(x[1]), 0); };
      const total = num('Total'), ok = num('Passed'), skip = num('Skipped');
      let bad = total - ok - skip;
      if ((code !== 0 || signal) && bad === 0) bad = 1; // crashed or failed outside a test
      passed += ok; failed += bad; skipped += skip;
      if (bad) failedFiles.push(rel);
      resolve();
    });
  });
}

const started = Date.now();
for (const f of files) await runFile(f);
process.stdout.write(`\n${files.length} test files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (failedFiles.length) process.stdout.write(`; failing: ${failedFiles.join(', ')}`);
process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
