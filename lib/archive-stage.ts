// tscr archives as dump output and restore input.
//  - dump --compress: pages stream into the archive (lib/archive-dump.ts); only the
//    small metadata images go through a staging directory beside the archive.
//  - restore from an archive: see lib/archive-restore.ts (verified in full, metadata
//    staged in RAM, pages streamed into the targets).
import { mkdtempSync, existsSync, statSync } from 'node:fs';
import { dirname, join, basename, resolve } from 'node:path';
import { ArchiveReader } from './archive.ts';
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
