// Synthetic images shared by the start-up and codec benches: the 300,000-entry
// pagemap (16-byte entries like a real dump's, 4.8 MB) and one small pstree image.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeImage } from '../lib/images.ts';

/** Write pagemap-1.img (300,000 entries) and pstree.img (one process) into dir; returns their paths. */
export function writeSynthImages(dir: string): { pm: string; small: string } {
  const entries: any[] = [{ pages_id: 1 }];
  let va = 0x400000;
  for (let i = 0; i < 300000; i++) {
    entries.push({ vaddr: va, compat_nr_pages: 0, flags: i % 3 ? 4 : 6, nr_pages: 1 + (i % 7) });
    va += 0x2000 * (1 + (i % 7)) + 0x1000;
  }
  const pm = join(dir, 'pagemap-1.img');
  writeFileSync(pm, encodeImage({ magic: 'PAGEMAP', entries }));
  const small = join(dir, 'pstree.img');
  writeFileSync(small, encodeImage({ magic: 'PSTREE', entries: [{ pid: 1, ppid: 0, pgid: 1, sid: 1, threads: [1] }] }));
  return { pm, small };
}
