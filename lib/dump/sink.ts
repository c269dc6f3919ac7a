// Where a dump's images go. Images are built in crit's JSON shape (the image
// API's in-memory shape, lib/images.ts) and encoded to CRIU's binary format by
// the codec.
import { writeFileSync, mkdirSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeImage, type Image } from '../images.ts';
import { TscrError } from '../errors.ts';

/** File name of an image written by a module through addEntry(magic, ...). */
const EXTRA_FILES: Record<string, string> = {
  REMAP_FPATH: 'remap-fpath.img', GHOST_FILE: 'ghost-file-%d.img', PIPES_DATA: 'pipes-data.img', FIFO_DATA: 'fifo-data.img',
  SK_QUEUES: 'sk-queues.img', PIPES: 'pipes.img', FIFO: 'fifo.img', UNIXSK: 'unixsk.img', INETSK: 'inetsk.img',
  EVENTFD_FILE: 'eventfd.img', EVENTPOLL_FILE: 'eventpoll.img', EVENTPOLL_TFD: 'eventpoll-tfd.img', TIMERFD: 'timerfd.img',
  SIGNALFD: 'signalfd.img', INOTIFY_FILE: 'inotify.img', INOTIFY_WD: 'inotify-wd.img', MEMFD_INODE: 'memfd.img',
  TCP_STREAM: 'tcp-stream-%d.img',
};
export function extraFileName(magic: string, n?: number): string {
  const f = EXTRA_FILES[magic] ?? magic.toLowerCase().replace(/_/g, '-') + '.img';
  return f.includes('%d') ? f.replace('%d', String(n ?? 1)) : f;
}

export class ImageSink {
  readonly dir: string;
  images: { file: string; img: Image }[] = [];
  /** Paths written so far (removed again if the dump fails). */
  written: string[] = [];
  constructor(dir: string) {
    this.dir = dir;
    try { mkdirSync(dir, { recursive: true }); } catch (e: any) {
      throw new TscrError('E_IO', `cannot create the images directory ${dir}: ${e.code}`, { file: dir });
    }
  }
  put(file: string, magic: string, entries: any[]) { this.images.push({ file, img: { magic, entries } }); }

  /** Encode and write every image; fsync each when sync is set. */
  flush(sync: boolean): void {
    for (const { file, img } of this.images) {
      const path = join(this.dir, file);
      let bytes: Uint8Array;
      try {
        bytes = encodeImage(img, { file });
      } catch (e: any) {
        throw new TscrError('E_INTERNAL', `encoding ${file} failed: ${e.message}`, { file, kind: img.magic });
      }
      try {
        this.written.push(path);
        writeFileSync(path, bytes);
        if (sync) { const fd = openSync(path, 'r'); fsyncSync(fd); closeSync(fd); }
      } catch (e: any) {
        throw new TscrError('E_IO', `cannot write ${path}: ${e.code ?? e.message}`, { file: path, hint: 'check free space and permissions of the images directory' });
      }
    }
    if (sync) { const fd = openSync(this.dir, 'r'); fsyncSync(fd); closeSync(fd); }
  }
}
