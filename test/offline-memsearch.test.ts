// mem --regex across chunk boundaries: matches longer than the scan's overlap, matches
// that a window end cuts short, and the limits that say so. A copy of the shared `mem`
// checkpoint whose 8 MiB mapping becomes one 24 MiB run of dumped pages, with strings
// planted across the 16 MiB chunk boundary (and across smaller ones, for the in-process
// runs with lowered SEARCH_LIMITS).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, openSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, encodeImage } from '../lib/images.ts';
import { openCheckpoint } from '../lib/offline/checkpoint.ts';
import { search, SEARCH_LIMITS } from '../lib/offline/mem.ts';
import { TscrError } from '../lib/errors.ts';
import { copyShared, cleanup, tscr } from './helpers/offline.ts';

const MiB = 1 << 20;
const SPAN = 24 * MiB;
const { root, images: DIR } = copyShared('mem');
let base = 0n;
const plant: [number, string][] = [
  [16 * MiB - 100, 'Q'.repeat(10000) + 'x'],     // longer than any overlap, across the 16 MiB chunk end
  [MiB - 50, 'A'.repeat(3000) + 'B'],            // across a 64 KiB boundary, shorter than 4 KiB
  [2 * MiB - 7, 'needle-' + 'n'.repeat(5000)],   // a literal across a boundary
  [20 * MiB - 1000, 'W'.repeat(5000) + ' '],     // `W+$` must not match where a window ends inside it
];

function build() {
  const pid = readdirSync(DIR).find((f) => /^mm-\d+\.img$/.test(f))!.match(/\d+/)![0];
  const mm = decodeImage(readFileSync(join(DIR, `mm-${pid}.img`)));
  const pm = decodeImage(readFileSync(join(DIR, `pagemap-${pid}.img`)));
  const big = mm.entries[0].vmas.find((v: any) => BigInt(v.end) - BigInt(v.start) === 8n << 20n);
  const oldStart = BigInt(big.start), end = BigInt(big.end);
  base = end - BigInt(SPAN);
  big.start = '0x' + base.toString(16);
  const ents = pm.entries.slice(1);
  let off = 0;
  const origOff = new Map<any, number>();
  for (const e of ents) { origOff.set(e, off); off += Number(e.nr_pages) * 4096; }
  const lo = ents.filter((e: any) => BigInt(e.vaddr) < oldStart), hi = ents.filter((e: any) => BigInt(e.vaddr) >= end);
  const bigEnt = { vaddr: big.start, compat_nr_pages: 0, flags: 'PE_PRESENT', nr_pages: SPAN / 4096 };
  pm.entries = [pm.entries[0], ...lo, bigEnt, ...hi];
  writeFileSync(join(DIR, `mm-${pid}.img`), encodeImage(mm));
  writeFileSync(join(DIR, `pagemap-${pid}.img`), encodeImage(pm));
  const orig = readFileSync(join(DIR, 'pages-1.img'));
  const data = Buffer.alloc(SPAN, 0x2e);
  for (const [at, s] of plant) data.write(s, at, 'latin1');
  const fd = openSync(join(DIR, 'pages-1.img'), 'w');
  try {
    for (const e of pm.entries.slice(1)) {
      if (e === bigEnt) writeSync(fd, data);
      else writeSync(fd, orig.subarray(origOff.get(e)!, origOff.get(e)! + Number(e.nr_pages) * 4096));
    }
  } finally { closeSync(fd); }
}
build();
const addr = (off: number) => '0x' + (base + BigInt(off)).toString(16);

function inProcess(re: RegExp, limits: Partial<typeof SEARCH_LIMITS>) {
  const saved = { ...SEARCH_LIMITS };
  Object.assign(SEARCH_LIMITS, limits);
  const cp = openCheckpoint(DIR);
  try { return search(cp, cp.procs()[0], { kind: 'regex', re }); } finally { Object.assign(SEARCH_LIMITS, saved); cp.close(); }
}

test('the checkpoint is valid', async () => {
  assert.is((await tscr('validate', DIR)).rc, 0);
});

test('--regex: a 10,000-byte match across the 16 MiB chunk end is one hit, whole', async () => {
  const r = await tscr('mem', DIR, '--regex', 'Q{100,}', '--json');
  assert.is(r.rc, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.total, 1);
  assert.is(j.hits[0].addr, addr(16 * MiB - 100));
  assert.is(j.hits[0].match.length, 10000);
  // nothing after the long match is lost: the x right after it
  const x = JSON.parse((await tscr('mem', DIR, '--regex', 'Q+x', '--json')).out);
  assert.is(x.total, 1);
  assert.is(x.hits[0].match.length, 10001);
});

test('--regex: an end-of-window `$` does not make false hits; a counted repetition past the overlap is refused', async () => {
  const w = JSON.parse((await tscr('mem', DIR, '--regex', 'W+$', '--json')).out);
  assert.is(w.total, 0);
  const r = await tscr('mem', DIR, '--regex', 'Q{70000}');
  assert.is(r.rc, 2);
  assert.match(r.err, /65536 bytes/);
});

test('in-process with small chunks: long matches at every boundary, and the max-match error', () => {
  const small = { chunk: 64 << 10, regexOverlap: 4096, regexMaxMatch: 16 << 10 };
  let r = inProcess(/Q{100,}/g, small);
  assert.is(r.total, 1);
  assert.is(r.hits[0].addr, addr(16 * MiB - 100));
  assert.is(r.hits[0].match.length, 10000);
  r = inProcess(/A{3000}B/g, small);
  assert.is(r.total, 1);
  assert.is(r.hits[0].addr, addr(MiB - 50));
  r = inProcess(/W+$/g, small);
  assert.is(r.total, 0);
  r = inProcess(/W+ /g, small);
  assert.is(r.total, 1);
  assert.is(r.hits[0].match.length, 5001);
  r = inProcess(/n{4000,}/g, small);
  assert.is(r.total, 1);
  assert.is(r.hits[0].match.length, 5000);
  try {
    inProcess(/Q{100,}/g, { ...small, regexMaxMatch: 8192 });
    assert.unreachable('a 10,000-byte match over an 8 KiB limit must be refused');
  } catch (e) {
    assert.instance(e, TscrError);
    assert.match((e as Error).message, /more than 8192 bytes at 0x/);
  }
  const lit = openCheckpoint(DIR);
  try {
    const s = search(lit, lit.procs()[0], { kind: 'string', bytes: Buffer.from('needle-' + 'n'.repeat(5000)) });
    assert.is(s.total, 1);
    assert.is(s.hits[0].addr, addr(2 * MiB - 7));
  } finally { lit.close(); }
});

test.after(() => cleanup(root));
test.run();
