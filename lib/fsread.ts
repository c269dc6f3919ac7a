// Positioned reads that do not stop short: readSync may return fewer bytes than
// asked (large reads, pipes, /proc files); these loop until the file ends.
import { readSync } from 'node:fs';

/** Read up to len bytes at file position pos into buf[0..len); fewer only at end of file. Returns the count. */
export function preadFull(fd: number, buf: Uint8Array, pos: number, len = buf.length): number {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}
