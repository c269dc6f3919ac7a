// tscr archives as dump output and restore input, through a staging directory.
// The dump engine writes CRIU images with its C copy engine straight to files,
// and the restore engine has the target pread64 its pages from a pages-N.img,
// so both need real image files. Until they stream pages through the archive
// API (docs/archive.md, "Reading and writing"), these helpers stage them:
//  - dump --compress: images are written to a staging directory beside the
//    archive, converted (page dedup + LZ4 in worker threads), then removed;
//  - restore from an archive: the archive is verified in full first (nothing is
//    created from a damaged archive), then extracted to a RAM-backed directory
//    (/dev/shm when there is one) that is removed once the pages are loaded.
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { dirname, join, basename, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { ArchiveReader, dirToArchive, archiveToDir, type ArchiveStats } from './archive.ts';
import { TscrError } from './errors.ts';

/** Is this path a tscr archive (a file starting with the archive magic)? */
export function isArchivePath(path: string): boolean {
  return ArchiveReader.isArchive(path);
}

/** A fresh staging directory for a dump that will become `archive`. */
export function dumpStageFor(archive: string): string {
  const a = resolve(archive);
  if (existsSync(a) && statSync(a).isDirectory()) {
    throw new TscrError('E_USAGE', `${a} is a directory; with --compress, -D names the archive file to write`, { file: a, hint: 'e.g. tscr dump -t PID --compress -D ckpt.tscr' });
  }
  return mkdtempSync(join(dirname(a), `.${basename(a)}.stage-`));
}

/** Turn a finished staged dump into the archive, then drop the staging directory. */
export async function finishStagedDump(stage: string, archive: string, opts: { prev?: string; workers?: number } = {}): Promise<ArchiveStats> {
  let stats: ArchiveStats;
  try {
    stats = await dirToArchive(stage, resolve(archive), { parent: opts.prev, workers: opts.workers ?? 2 });
  } catch (e) {
    const err = e instanceof TscrError ? e : new TscrError('E_IO', String((e as Error)?.message ?? e));
    err.where.hint = `the dump itself succeeded: its CRIU images are in ${stage}; convert them with \`tscr convert ${stage} ${archive}\``;
    throw err;
  }
  rmSync(stage, { recursive: true, force: true });
  return stats;
}

/** Verify an archive in full and extract it for the restore engine; call cleanup() once pages are loaded. */
export function stageForRestore(archive: string): { dir: string; cleanup: () => void } {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'tscr-restore-'));
  try {
    archiveToDir(archive, dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
