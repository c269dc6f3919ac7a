// Every build step of tscr, run by `npm install` (prepare) and `npm run build`.
//   1. core-as/assembly  -> build/core.wasm        (AssemblyScript, any OS)
//   2. shim/*.c          -> build/libtscr.so       (Linux + cc only)
//      shim/stub/*.c     -> build/tscr-stub        (static, no libc)
//   3. fixtures/*.c      -> build/fixtures/NAME    (Linux + cc only; test programs)
//   4. cli/main.ts       -> dist/tscr.js           (esbuild bundle; koffi stays external)
// Usage: node scripts/build.mjs [core|shim|fixtures|cli ...]   (default: all)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'build');
mkdirSync(build, { recursive: true });
const want = new Set(process.argv.slice(2));
const step = (name) => want.size === 0 || want.has(name);
const log = (s) => process.stderr.write(`[build] ${s}\n`);

function hasCC() {
  return process.platform === 'linux' && spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function buildCore() {
  const asc = (await import('assemblyscript/asc')).default;
  const { error, stderr } = await asc.main(
    ['core-as/assembly/index.ts', '--config', 'asconfig.json', '--target', 'release'],
    { stdout: process.stdout, stderr: process.stderr },
  );
  if (error) throw new Error(`AssemblyScript build failed: ${error.message}\n${stderr?.toString?.() ?? ''}`);
  log('core-as -> build/core.wasm');
}

function cc(args) {
  execFileSync('cc', args, { stdio: 'inherit', cwd: root });
}

function buildShim() {
  if (!hasCC()) { log('shim skipped (needs Linux and a C compiler; offline commands work without it)'); return; }
  const srcs = readdirSync(join(root, 'shim')).filter((f) => f.endsWith('.c')).map((f) => join('shim', f));
  if (srcs.length) {
    cc(['-O2', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-shared', '-fPIC', '-o', 'build/libtscr.so', ...srcs, '-lpthread']);
    log('shim -> build/libtscr.so');
  }
  const stubDir = join(root, 'shim', 'stub');
  if (existsSync(stubDir)) {
    const stubSrcs = readdirSync(stubDir).filter((f) => /\.(c|S)$/.test(f)).map((f) => join('shim', 'stub', f));
    if (stubSrcs.length) {
      cc(['-Os', '-static', '-nostdlib', '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-fno-pie', '-no-pie',
        '-Wl,--build-id=none', '-o', 'build/tscr-stub', ...stubSrcs]);
      log('stub -> build/tscr-stub');
    }
  }
}

function buildFixtures() {
  if (!hasCC()) { log('fixtures skipped (needs Linux and a C compiler)'); return; }
  const dir = join(root, 'fixtures');
  if (!existsSync(dir)) return;
  const out = join(build, 'fixtures');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.c'))) {
    const name = basename(f, '.c');
    const dst = join(out, name);
    const src = join(dir, f);
    const hdrs = readdirSync(dir).filter((h) => h.endsWith('.h')).map((h) => statSync(join(dir, h)).mtimeMs);
    if (existsSync(dst) && statSync(dst).mtimeMs > Math.max(statSync(src).mtimeMs, ...hdrs)) continue;
    // Static by default: fewer file mappings to restore, as with CRIU's reference programs.
    // A fixture whose first line says `// dynamic` links against libc normally.
    const firstLine = (execFileSync('head', ['-n1', src]).toString());
    const link = firstLine.includes('dynamic') ? [] : ['-static'];
    cc(['-O1', '-g', '-Wall', '-pthread', ...link, '-o', dst, src]);
  }
  log('fixtures -> build/fixtures/');
}

async function buildCli() {
  const esbuild = await import('esbuild');
  const entries = { tscr: 'cli/main.ts' };
  if (existsSync(join(root, 'shim', 'worker.ts'))) entries.worker = 'shim/worker.ts';
  if (existsSync(join(root, 'lib', 'archive-worker.ts'))) entries['archive-worker'] = 'lib/archive-worker.ts';
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: entries,
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    format: 'esm',
    // lazily imported parts (yargs, the full command list) go to their own chunks,
    // so `tscr decode` starts without parsing them
    splitting: true,
    chunkNames: '[name]-[hash]', // must stay directly in dist/ (lib/paths.ts resolves the root from it)
    target: 'node20',
    external: ['koffi'],
    sourcemap: 'linked',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __tscrCreateRequire } from 'node:module'; const require = __tscrCreateRequire(import.meta.url);" },
  });
  log('cli -> dist/tscr.js');
}

try {
  if (step('core')) await buildCore();
  if (step('shim')) buildShim();
  if (step('fixtures')) buildFixtures();
  if (step('cli')) await buildCli();
} catch (e) {
  process.stderr.write(`[build] FAILED: ${e.message}\n`);
  process.exit(1);
}
