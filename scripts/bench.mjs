// Runs every bench/*.bench.ts (or those matching the arguments) one after the other.
// Usage: npm run bench [-- PATTERN ...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n# bench/${f}\n`);
  const r = spawnSync(process.execPath, ['--import', join(root, 'scripts/ts-register.mjs'), join(root, 'bench', f)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
