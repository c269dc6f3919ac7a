// validate, mem, diff and report on randomly damaged images: findings or a
// clear TscrError, never a crash, a hang or an internal error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { copyShared, cleanup, editImage, SHARED_DIR } from './helpers/offline.ts';
import { openCheckpoint } from '../lib/offline/checkpoint.ts';
import { validateCheckpoint } from '../lib/offline/validate.ts';
import { diffCheckpoints } from '../lib/offline/diff.ts';
import { memoryMap, search } from '../lib/offline/mem.ts';
import { renderReport } from '../lib/offline/report.ts';
import { TscrError } from '../lib/errors.ts';

const made: string[] = [];
test.after(() => cleanup(...made));

// small deterministic PRNG so failures reproduce
let seed = Number(process.env.TSCR_FUZZ_SEED ?? 12345);
const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };

test('120 random damages across the shared checkpoints', () => {
  const names = ['loop', 'tree', 'sockets', 'files', 'tcp'];
  const copies = names.map((n) => { const c = copyShared(n); made.push(c.root); return c; });
  const originals = copies.map((c) => new Map(readdirSync(c.images).map((f) => [f, readFileSync(join(c.images, f))])));
  let findings = 0, errors = 0;
  for (let it = 0; it < 120; it++) {
    const k = rnd(copies.length);
    const c = copies[k];
    const files = [...originals[k].keys()].filter((f) => f.endsWith('.img') && !f.startsWith('pages-'));
    const f = files[rnd(files.length)];
    const b = Buffer.from(originals[k].get(f)!);
    const how = rnd(4);
    if (how === 0) for (let i = 0; i < 1 + rnd(4); i++) b[rnd(b.length)] = rnd(256);
    else if (how === 1) b[8 + rnd(Math.max(1, b.length - 8))] ^= 1 << rnd(8);
    writeFileSync(join(c.images, f), b);
    if (how === 2) truncateSync(join(c.images, f), rnd(b.length));
    if (how === 3) writeFileSync(join(c.images, f), Buffer.concat([b, Buffer.from([rnd(256), rnd(256), rnd(256)])]));
    try {
      const cp = openCheckpoint(c.images);
      const r = validateCheckpoint(cp);
      findings += r.findings.length;
      for (const p of cp.procs()) { memoryMap(p); search(cp, p, { kind: 'string', bytes: Buffer.from('tscr') }, 5); }
      renderReport(cp, r);
      diffCheckpoints(cp, openCheckpoint(c.images));
    } catch (e) {
      if (!(e instanceof TscrError)) throw new Error(`iteration ${it} (${names[k]}/${f}, damage ${how}, seed ${process.env.TSCR_FUZZ_SEED ?? 12345}): ${(e as Error).stack}`);
      errors++;
    }
    writeFileSync(join(c.images, f), originals[k].get(f)!);
  }
  assert.ok(findings + errors > 100, `damage was noticed (${findings} findings, ${errors} errors)`);
});

test('absurd values that decode fine: huge page counts, wrapped addresses, reversed VMAs', () => {
  const edits: [string, (img: any) => void][] = [
    ['pagemap', (img) => { img.entries[1].nr_pages = 2 ** 40; }],
    ['pagemap', (img) => { img.entries[2].vaddr = '0xfffffffffffff000'; img.entries[2].nr_pages = 3; }],
    ['pagemap', (img) => { img.entries.reverse(); img.entries.unshift(img.entries.pop()); }],
    ['mm', (img) => { const v = img.entries[0].vmas[3]; [v.start, v.end] = [v.end, v.start]; }],
    ['mm', (img) => { img.entries[0].vmas = []; }],
    ['pstree', (img) => { img.entries[0].threads = []; img.entries[0].ppid = img.entries[0].pid; }],
  ];
  for (const [kind, edit] of edits) {
    const c = copyShared('loop');
    made.push(c.root);
    const name = readdirSync(c.images).find((f) => f.startsWith(kind + (kind === 'pstree' ? '' : '-')) && f.endsWith('.img'))!.replace('.img', '');
    editImage(c.root, name, edit);
    const cp = openCheckpoint(c.images);
    const r = validateCheckpoint(cp);
    assert.ok(r.errors > 0, `${kind}: damage found`);
    for (const p of cp.procs()) { memoryMap(p); try { search(cp, p, { kind: 'string', bytes: Buffer.from('tscr') }, 5); } catch (e) { if (!(e instanceof TscrError)) throw e; } }
    renderReport(cp, r);
    diffCheckpoints(cp, openCheckpoint(join(SHARED_DIR, 'loop', 'images')));
  }
});

test('hostile sizes stay fast: 100k reversed, overlapping, giant pagemap entries', () => {
  const c = copyShared('loop');
  made.push(c.root);
  const pm = readdirSync(c.images).find((f) => /^pagemap-\d+\.img$/.test(f))!.replace('.img', '');
  editImage(c.root, pm, (img) => {
    const head = img.entries[0];
    const ents = [];
    for (let i = 100_000; i > 0; i--) ents.push({ vaddr: '0x' + (0x400000 + i * 4096).toString(16), compat_nr_pages: 0, flags: 'PE_PRESENT', nr_pages: i % 7 === 0 ? 2 ** 35 : 1 });
    img.entries = [head, ...ents];
  });
  const t0 = performance.now();
  const cp = openCheckpoint(c.images);
  const r = validateCheckpoint(cp, { pageData: false });
  assert.ok(r.errors > 0);
  for (const p of cp.procs()) memoryMap(p);
  renderReport(cp, r);
  diffCheckpoints(cp, openCheckpoint(join(SHARED_DIR, 'loop', 'images')));
  const s = (performance.now() - t0) / 1000;
  assert.ok(s < 20, `took ${s.toFixed(1)} s`);
});

test.run();
