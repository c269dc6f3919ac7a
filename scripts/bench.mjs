// Runs every bench/*.bench.ts (or those matching the arguments) in its own Node
// process with the TypeScript hook. Benchmarks print their own tables.
// Usage: npm run bench [-- PATTERN ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'bench');
const filters = process.argv.slice(2);
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).sort() : [];
let failed = 0;
for (const f of files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))) {
  process.stdout.write(`\n## ${f}\n`);
  const r = spawnSync(process.execPath, ['--import', join(root, 'scripts/ts-register.mjs'), join(dir, f)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { failed++; process.stdout.write(`!! ${f} exited with ${r.status ?? r.signal}\n`); }
}
process.exitCode = failed ? 1 : 0;
