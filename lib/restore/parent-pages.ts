// Incremental CRIU image directories (CRIU's --prev-images-dir semantics, issue 7):
// a pagemap entry flagged PE_PARENT keeps its pages in the checkpoint that the
// `parent` link of the images directory names, which may keep them in its own
// parent in turn. resolveParentPages() maps such ranges to (pages file, offset)
// runs, checking that every page is really there.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TscrError } from '../errors.ts';
import { readPagemap } from '../images.ts';

const PAGE = 4096;
const PE_PARENT = 1, PE_PRESENT = 4;
const MAX_DEPTH = 64;

/** Runs to read: per pages file, flat triples (vaddr, file offset, length). */
export interface FileRuns { path: string; runs: bigint[] }

/** Resolve ranges [vaddr, length] of pid that the checkpoint in `dir` keeps in its parent. */
export function resolveParentPages(dir: string, pid: number, wants: [number, number][]): FileRuns[] {
  const out = new Map<string, bigint[]>();
  resolveIn(dir, pid, wants, out, 0);
  return [...out].map(([path, runs]) => ({ path, runs }));
}

function resolveIn(child: string, pid: number, wants: [number, number][], out: Map<string, bigint[]>, depth: number): void {
  if (!wants.length) return;
  const link = join(child, 'parent');
  if (!existsSync(link)) {
    throw new TscrError('E_NOT_FOUND', `pages of pid ${pid} are in the parent checkpoint, but ${link} is missing`, { file: link, pid, hint: 'an incremental checkpoint needs its parent directory (the `parent` link) where it was' });
  }
  if (depth >= MAX_DEPTH) throw new TscrError('E_CORRUPT', `the chain of parent checkpoints of ${child} is longer than ${MAX_DEPTH} (a loop?)`, { file: link });
  const dir = realpathSync(link);
  const pmPath = join(dir, `pagemap-${pid}.img`);
  if (!existsSync(pmPath)) throw new TscrError('E_NOT_FOUND', `the parent checkpoint ${dir} has no pagemap of pid ${pid}`, { file: pmPath, pid });
  const pm = readPagemap(pmPath);
  const pagesPath = join(dir, `pages-${pm.pagesId}.img`);
  const size = existsSync(pagesPath) ? statSync(pagesPath).size : 0;
  // entries in address order, with their offset in the pages file
  const ents: { va: number; end: number; off: number; parent: boolean }[] = [];
  let off = 0;
  for (let i = 0; i < pm.count; i++) {
    const f = pm.flags[i], len = pm.nrPages[i] * PAGE;
    const parent = (f & PE_PARENT) !== 0 || pm.inParent[i] === 1;
    if (parent || (f & PE_PRESENT)) ents.push({ va: pm.vaddr[i], end: pm.vaddr[i] + len, off, parent });
    if ((f & PE_PRESENT) && !parent) off += len;
  }
  ents.sort((a, b) => a.va - b.va);
  const further: [number, number][] = [];
  const runs = out.get(pagesPath) ?? [];
  let e = 0;
  for (const [va0, len0] of [...wants].sort((a, b) => a[0] - b[0])) {
    let va = va0;
    const end = va0 + len0;
    while (e > 0 && ents[e - 1].end > va) e--;
    while (va < end) {
      while (e < ents.length && ents[e].end <= va) e++;
      if (e >= ents.length || ents[e].va > va) {
        throw new TscrError('E_CORRUPT', `page 0x${va.toString(16)} of pid ${pid} should be in the parent checkpoint ${dir}, which does not have it`, { file: pmPath, pid, hint: 'the parent directory is not the one this checkpoint was made against' });
      }
      const en = ents[e];
      const take = Math.min(end, en.end) - va;
      if (en.parent) further.push([va, take]);
      else {
        const fo = en.off + (va - en.va);
        if (fo + take > size) throw new TscrError('E_TRUNCATED', `${pagesPath} is ${size} bytes; pid ${pid} needs ${fo + take}`, { file: pagesPath, offset: size, pid });
        runs.push(BigInt(va), BigInt(fo), BigInt(take));
      }
      va += take;
    }
  }
  if (runs.length) out.set(pagesPath, runs);
  resolveIn(dir, pid, further, out, depth + 1);
}
