// tscr convert SRC DST: a CRIU image directory -> a tscr archive, and back.
// Offline: Wasm only, never the shim.
import { statSync, existsSync, readdirSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../context.ts';
import { usage } from '../context.ts';
import { TscrError } from '../../lib/errors.ts';
import { ArchiveReader, dirToArchive, archiveToDir, imageFiles } from '../../lib/archive.ts';
import { defaultWorkers } from '../../lib/archive-pool.ts';

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

const convert: Command = {
  command: 'convert <src> <dst>',
  describe: 'Convert a CRIU image directory into a compact tscr archive, or an archive back into a CRIU directory',
  builder: (y: any) => y
    .positional('src', { type: 'string', describe: 'CRIU image directory or tscr archive' })
    .positional('dst', { type: 'string', describe: 'archive file to write, or directory to fill' })
    .option('prev', { type: 'string', describe: 'previous checkpoint (a tscr archive or a CRIU directory): store only pages whose content is not already there' })
    .option('level', { type: 'number', default: 2, describe: '0 = store uncompressed, 1 = fast LZ4, 2 = LZ4 with hash chains (smaller, slower), 3 = smallest' })
    .option('workers', { type: 'number', describe: 'compression threads besides the main one, which packs too (0 = compress in the main thread only; default: one per core beyond the first, at most 3)' })
    .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing archive / write into a non-empty directory' })
    .option('to-criu-compressed', { type: 'string', describe: "write a CRIU directory whose pages are LZ4-compressed like criu-dev's `--compress` (page: one block per page, the default) or `--compress-region` (region)" })
    .option('region-size', { type: 'string', describe: 'block size for --to-criu-compressed=region: bytes or K/M, a multiple of 4 KiB up to 4M (default 256K)' })
    .option('to-criu-plain', { type: 'boolean', default: false, describe: 'write a CRIU directory with uncompressed pages (decompresses criu-dev compressed pages)' }),
  async run(args, ctx) {
    const src = String(args.src), dst = String(args.dst);
    if (!existsSync(src)) throw new TscrError('E_NOT_FOUND', `${src} does not exist`, { file: src, hint: 'give a CRIU image directory or a tscr archive' });
    const t0 = performance.now();
    if (args.toCriuCompressed !== undefined || args.toCriuPlain) return toCriuDir(src, dst, args, ctx, t0);
    if (statSync(src).isDirectory()) {
      if (imageFiles(src).length === 0) throw new TscrError('E_NOT_FOUND', `${src} holds no image files`, { file: src, hint: 'give the directory `tscr dump -D` or `criu dump -D` wrote' });
      if (existsSync(dst) && !args.force) throw usage(`${dst} already exists`, 'pick a new archive name, or add --force');
      if (existsSync(dst) && statSync(dst).isDirectory()) throw usage(`${dst} is a directory; converting a directory writes an archive file`);
      const level = Number(args.level);
      if (![0, 1, 2, 3].includes(level)) throw usage(`--level must be 0, 1, 2 or 3, not ${args.level}`);
      const workers = args.workers === undefined ? defaultWorkers() : Math.max(0, Math.min(16, Math.floor(Number(args.workers) || 0)));
      const p = ctx.progress('convert', 'items');
      let k = 0;
      const n = imageFiles(src).length;
      const stats = await dirToArchive(src, dst, { level, workers, parent: args.prev ? String(args.prev) : undefined }, (name) => { p.update(++k, n, name); ctx.log(2, `store ${name}`); });
      p.end();
      const secs = (performance.now() - t0) / 1000;
      if (ctx.jsonMode) ctx.json({ direction: 'dir-to-archive', src, dst, ...stats, seconds: secs });
      else {
        ctx.out(`${src} -> ${dst}: ${stats.files} files, ${human(stats.rawBytes)} -> ${human(stats.archiveBytes)} (${(100 * stats.archiveBytes / Math.max(1, stats.rawBytes)).toFixed(1)}%)\n`);
        ctx.out(`  pages: ${stats.pages} (${stats.zeroPages} zero, ${stats.dupPages} duplicate, ${stats.parentPages} in the parent, ${stats.storedPages} stored) in ${secs.toFixed(2)} s\n`);
      }
      return 0;
    }
    if (args.prev) throw usage('--prev applies when a directory is converted into an archive', 'an archive names its own parent');
    if (!ArchiveReader.isArchive(src)) throw new TscrError('E_BAD_MAGIC', `${src} is neither a directory nor a tscr archive`, { file: src, offset: 0, hint: 'give a CRIU image directory or a tscr archive' });
    if (existsSync(dst)) {
      if (!statSync(dst).isDirectory()) throw usage(`${dst} exists and is not a directory`);
      if (readdirSync(dst).length && !args.force) throw usage(`${dst} is not empty`, 'pick an empty or new directory, or add --force');
    }
    const p = ctx.progress('convert', 'items');
    let k = 0;
    const r = archiveToDir(src, dst, (name) => { p.update(++k, undefined, name); ctx.log(2, `extract ${name}`); });
    p.end();
    const secs = (performance.now() - t0) / 1000;
    if (ctx.jsonMode) ctx.json({ direction: 'archive-to-dir', src, dst, ...r, seconds: secs });
    else ctx.out(`${src} -> ${dst}: ${r.files} files, ${human(r.bytes)} (verified) in ${secs.toFixed(2)} s\n`);
    return 0;
  },
};

/** SRC (directory or archive) -> a CRIU directory with compressed (criu-dev layout) or plain pages. */
async function toCriuDir(src: string, dst: string, args: any, ctx: any, t0: number): Promise<number> {
  const { rewriteDir, parseRegionSize } = await import('../../lib/criucomp.ts');
  if (args.toCriuCompressed !== undefined && args.toCriuPlain) throw usage('--to-criu-compressed and --to-criu-plain exclude each other');
  const m = args.toCriuCompressed === undefined ? null : String(args.toCriuCompressed || 'page');
  if (m !== null && m !== 'page' && m !== 'region') throw usage(`--to-criu-compressed must be page or region, not ${m}`);
  if (args.regionSize !== undefined && m !== 'region') throw usage('--region-size applies to --to-criu-compressed=region');
  const regionSize = m === 'region' ? parseRegionSize(args.regionSize) : 0;
  if (existsSync(dst)) {
    if (!statSync(dst).isDirectory()) throw usage(`${dst} exists and is not a directory`);
    if (readdirSync(dst).length && !args.force) throw usage(`${dst} is not empty`, 'pick an empty or new directory, or add --force');
  }
  if (statSync(src).isDirectory()) {
    mkdirSync(dst, { recursive: true });
    for (const n of imageFiles(src)) copyFileSync(join(src, n), join(dst, n));
  } else {
    if (!ArchiveReader.isArchive(src)) throw new TscrError('E_BAD_MAGIC', `${src} is neither a directory nor a tscr archive`, { file: src, offset: 0, hint: 'give a CRIU image directory or a tscr archive' });
    archiveToDir(src, dst);
  }
  const { pagesBytes } = rewriteDir(dst, m ? { mode: m as 'page' | 'region', regionSize, level: 1 } : null);
  const secs = (performance.now() - t0) / 1000;
  const what = m ? (m === 'region' ? `compressed pages (regions of ${regionSize / 1024} KiB)` : 'compressed pages (one LZ4 block per page)') : 'plain pages';
  if (ctx.jsonMode) ctx.json({ direction: 'to-criu-dir', src, dst, pages: m ?? 'plain', regionSize: regionSize || undefined, pagesBytes, seconds: secs });
  else ctx.out(`${src} -> ${dst}: CRIU directory with ${what}, pages files ${human(pagesBytes)} in ${secs.toFixed(2)} s\n`);
  return 0;
}
export default convert;
