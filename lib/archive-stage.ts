// tscr archives as dump output and restore input.
//  - dump --compress: pages stream into the archive (lib/archive-dump.ts); only the
//    small metadata images go through a staging directory beside the archive.
//  - restore from an archive: the restore engine has the target pread64 its pages
//    from a pages-N.img, so the archive is verified in full first (nothing is
//    created from a damaged archive), then extracted to a RAM-backed directory
//    (/dev/shm when there is one) that is removed once the pages are loaded.
//    Streaming instead: ArchiveReader.readPages() into process_vm_writev.
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { dirname, join, basename, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { ArchiveReader, archiveToDir } from './archive.ts';
import { TscrError } from './errors.ts';

/** Is this path a tscr archive (a file starting with the archive magic)? */
export function isArchivePath(path: string): boolean {
  return ArchiveReader.isArchive(path);
}

/** A fresh staging directory for the metadata images of a dump that becomes `archive`. */
export function dumpStageFor(archive: string): string {
  const a = resolve(archive);
  if (existsSync(a) && statSync(a).isDirectory()) {
    throw new TscrError('E_USAGE', `${a} is a directory; with --compress, -D names the archive file to write`, { file: a, hint: 'e.g. tscr dump -t PID --compress -D ckpt.tscr' });
  }
  return mkdtempSync(join(dirname(a), `.${basename(a)}.stage-`));
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
