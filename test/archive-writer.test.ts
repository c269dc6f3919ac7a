// The archive writer's page path under the parallel pipeline: duplicates of pages
// still in flight (in the same 4 MiB run, in blocks a worker is packing) and of pages
// whose ring slot was reused long ago (read back from the file), zero pages, several
// pages files; workers 0 and 2 and both LZ4 levels give the same pages back, and the
// same archive bytes for the same level (also when the writer packs some blocks itself
// because the workers are behind).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ArchiveWriter, ArchiveReader } from '../lib/archive.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-arcw-'));
const PAGE = 4096;

// 7000 pages: distinct compressible pages, zero pages, and copies of earlier pages at
// short (same run) and long (beyond the 16 MiB ring) distances.
function makePages(n: number, salt = 0): Buffer {
  const b = Buffer.alloc(n * PAGE);
  const noise = randomBytes(n * 64);
  for (let i = 0; i < n; i++) {
    const p = b.subarray(i * PAGE, (i + 1) * PAGE);
    if (i % 97 === 5) continue;                                            // zero page
    if (i % 13 === 7 && i > 20) { b.copy(p, 0, (i - 3) * PAGE, (i - 2) * PAGE); continue; }        // recent copy
    if (i % 29 === 11 && i > 6500) { b.copy(p, 0, (i - 6400) * PAGE, (i - 6399) * PAGE); continue; } // old copy
    for (let k = 0; k < PAGE; k += 64) { p.writeUInt32LE(i + salt, k); noise.copy(p, k + 4, (i * 64 + (k >> 6)) % (noise.length - 16), ((i * 64 + (k >> 6)) % (noise.length - 16)) + 8); }
  }
  return b;
}
const pages = makePages(7000);
const second = Buffer.concat([pages.subarray(100 * PAGE, 900 * PAGE), randomBytes(50 * PAGE)]);
// the same mix again, new content, fed through writeWith: read straight into the block ring,
// where zero and duplicate pages make the rest move down (several times round the ring)
const third = makePages(7000, 1 << 20);

async function write(path: string, workers: number, level: number) {
  const w = ArchiveWriter.create(path, { workers, level });
  const s = w.pages('pages-1.img');
  for (let o = 0; o < pages.length; o += 3 << 20) await s.write(pages.subarray(o, Math.min(pages.length, o + (3 << 20))));
  await s.end();
  const s2 = w.pages('pages-2.img');
  // writeWith may give room for fewer pages than asked (view.length / 4096): loop
  for (let at = 0; at < 850;) {
    at += await s2.writeWith(850 - at, (view) => {
      const k = Math.min(850 - at, view.length / PAGE);
      view.set(second.subarray(at * PAGE, (at + k) * PAGE));
      return k;
    });
  }
  await s2.end();
  const s3 = w.pages('pages-3.img');
  for (let at = 0; at < 7000;) {
    const want = 1 + ((at * 7919) % 1024); // odd run lengths, so runs and blocks do not line up
    at += await s3.writeWith(Math.min(want, 7000 - at), (view) => {
      const k = Math.min(want, 7000 - at, view.length / PAGE);
      view.set(third.subarray(at * PAGE, (at + k) * PAGE));
      return k;
    });
  }
  await s3.end();
  await w.addBytes('core-1.img', Buffer.from('not pages'));
  const st = await w.finish();
  return { st, packedHere: w.packedHere };
}

// level 2 too: its hash chains are per instance of the shared page memory (a worker must not use another's)
for (const level of [1, -2, 2]) {
  test(`pages come back exactly, dedup counted, level ${level}`, async () => {
    const out: Buffer[] = [];
    for (const workers of [0, 2]) {
      const path = join(tmp, `w${workers}-${level}.tscr`);
      const { st, packedHere } = await write(path, workers, level);
      // with workers, the writer packs some blocks itself when they fall behind (level 2 is
      // slow, and the workers take a while to start); the bytes must not depend on who packed
      if (workers && level === 2) assert.ok(packedHere > 0, 'the writer helped the workers');
      if (workers && level === 2) assert.ok(packedHere < st.blocks, 'the workers packed blocks too');
      assert.ok(st.zeroPages >= 2 * 72, `zero pages ${st.zeroPages}`);
      assert.ok(st.dupPages >= 2 * 500 + 800, `dup pages ${st.dupPages}`);
      assert.is(st.pages, 7000 + 850 + 7000);
      const r = ArchiveReader.open(path);
      r.verify();
      assert.ok(Buffer.from(r.readFile('pages-1.img')).equals(pages), 'pages-1.img');
      assert.ok(Buffer.from(r.readFile('pages-2.img')).equals(second), 'pages-2.img');
      assert.ok(Buffer.from(r.readFile('pages-3.img')).equals(third), 'pages-3.img');
      assert.is(Buffer.from(r.readFile('core-1.img')).toString(), 'not pages');
      r.close();
      out.push(readFileSync(path));
    }
    assert.ok(out[0].equals(out[1]), 'workers 0 and 2 write the same archive');
  });
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
