// Streaming: files larger than the decode chunk (256 KiB), entries and payloads that
// cross chunk boundaries, payloads that run to the end of the file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFileToJSON, decodeImage, decodeToJSON, encodeFileFromJSON, encodeFromJSON, encodeImage, encodePagemap, forEachEntry, imageInfo, readPagemap } from '../lib/images.ts';
import { readFileSync } from 'node:fs';
import { sharedImages } from './codec-shared.ts';
import { TscrError } from '../lib/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-stream-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function collect(path: string, pretty = false): string {
  const parts: string[] = [];
  decodeFileToJSON(path, (s) => parts.push(typeof s === 'string' ? s : Buffer.from(s).toString('latin1')), { pretty });
  return parts.join('');
}

test('a 100,000-entry pagemap streams from a file and round-trips', () => {
  const entries: any[] = [{ pages_id: 7 }];
  for (let i = 0; i < 100000; i++) entries.push({ vaddr: `0x${(0x400000 + i * 0x3000).toString(16)}`, compat_nr_pages: 0, flags: i % 2 ? 'PE_PRESENT' : 'PE_LAZY | PE_PRESENT', nr_pages: 1 + (i % 3) });
  const bytes = encodeImage({ magic: 'PAGEMAP', entries });
  const path = join(tmp, 'pagemap-1.img');
  writeFileSync(path, bytes);
  const text = collect(path, true);
  assert.is(text, decodeToJSON(bytes, { pretty: true }));
  const img = JSON.parse(text);
  assert.is(img.entries.length, 100001);
  assert.equal(img.entries[12345], entries[12345]);
  assert.ok(Buffer.from(encodeFromJSON(collect(path))).equals(Buffer.from(bytes)));
  // streaming encode from a JSON file (1 MiB runs of entries)
  const jp = join(tmp, 'pagemap.json');
  writeFileSync(jp, text);
  const parts: Buffer[] = [];
  encodeFileFromJSON(jp, (b) => parts.push(Buffer.from(b)));
  assert.ok(Buffer.concat(parts).equals(Buffer.from(bytes)), 'streamed encode is byte-identical');
  writeFileSync(jp, text.slice(0, text.length - 5000));
  try { encodeFileFromJSON(jp, () => {}); assert.unreachable('truncated JSON encoded'); } catch (e) {
    assert.instance(e, TscrError);
    assert.is((e as TscrError).code, 'E_BAD_JSON');
    assert.type((e as TscrError).where.offset, 'number');
  }
  writeFileSync(jp, JSON.stringify({ entries: [{ pages_id: 1 }], magic: 'PAGEMAP' }));
  const small: Buffer[] = [];
  encodeFileFromJSON(jp, (b) => small.push(Buffer.from(b)));
  assert.ok(Buffer.concat(small).equals(Buffer.from(encodeImage({ magic: 'PAGEMAP', entries: [{ pages_id: 1 }] }))));
  let seen = 0;
  forEachEntry(path, (batch) => { seen += batch.length; });
  assert.is(seen, 100001);
  assert.is(imageInfo(bytes).count, 100000);
});

test('payloads larger than a chunk: pipe data and ghost file contents', () => {
  const data = Buffer.alloc(700000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
  const pipes = encodeImage({ magic: 'PIPES_DATA', entries: [
    { pipe_id: 1, bytes: 5, extra: Buffer.from('hello').toString('base64') },
    { pipe_id: 2, bytes: data.length, size: 1048576, extra: data.toString('base64') },
    { pipe_id: 3, bytes: 3, extra: Buffer.from('end').toString('base64') },
  ] });
  const pp = join(tmp, 'pipes-data.img');
  writeFileSync(pp, pipes);
  const img = JSON.parse(collect(pp));
  assert.ok(Buffer.from(img.entries[1].extra, 'base64').equals(data));
  assert.is(Buffer.from(img.entries[2].extra, 'base64').toString(), 'end');
  assert.ok(Buffer.from(encodeImage(decodeImage(pipes))).equals(Buffer.from(pipes)));

  const ghost = encodeImage({ magic: 'GHOST_FILE', entries: [{ uid: 0, gid: 0, mode: 33188, size: data.length, extra: data.toString('base64') }] });
  const gp = join(tmp, 'ghost-file-1.img');
  writeFileSync(gp, ghost);
  const g = JSON.parse(collect(gp));
  assert.ok(Buffer.from(g.entries[0].extra, 'base64').equals(data));
  assert.ok(Buffer.from(encodeFromJSON(collect(gp, true))).equals(Buffer.from(ghost)));

  const chunked = encodeImage({ magic: 'GHOST_FILE', entries: [{ uid: 0, gid: 0, mode: 33188, chunks: true, size: 8 },
    { len: 4, off: 0, extra: Buffer.from('abcd').toString('base64') }, { len: 4, off: 4096, extra: Buffer.from('efgh').toString('base64') }] });
  const c = decodeImage(chunked);
  assert.is(c.entries.length, 3);
  assert.is(Buffer.from(c.entries[2].extra, 'base64').toString(), 'efgh');
  assert.ok(Buffer.from(encodeImage(c)).equals(Buffer.from(chunked)));
});

test('tcp queues, sk queues, sem and shm payloads round-trip', () => {
  const tcp = { magic: 'TCP_STREAM', entries: [{ inq_len: 3, inq_seq: 1, outq_len: 2, outq_seq: 2, opt_mask: '0x7', snd_wscale: 7, mss_clamp: 65495, extra: { inq: 'YWJj\n', outq: 'ZGU=\n' } }] };
  const b = encodeImage(tcp);
  assert.equal(decodeImage(b), tcp);
  const sem = { magic: 'IPCNS_SEM', entries: [{ desc: { key: 1, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 438, id: 0 }, nsems: 3, extra: [1, 2, 65535] }] };
  assert.equal(decodeImage(encodeImage(sem)), sem);
  const shm = { magic: 'IPCNS_SHM', entries: [{ desc: { key: 1, uid: 0, gid: 0, cuid: 0, cgid: 0, mode: 438, id: 0 }, size: 5, extra: 'aGVsbG8=\n' }] };
  assert.equal(decodeImage(encodeImage(shm)), shm);
});

test('readPagemap / encodePagemap: columns, streamed, byte-identical', () => {
  for (const img of sharedImages().filter((i) => i.name.startsWith('pagemap-'))) {
    const bytes = readFileSync(img.path);
    const pm = readPagemap(img.path);
    const ref = JSON.parse(readFileSync(img.json, 'utf8'));
    assert.is(pm.pagesId, ref.entries[0].pages_id);
    assert.is(pm.count, ref.entries.length - 1);
    ref.entries.slice(1).forEach((e: any, i: number) => {
      assert.is(pm.vaddr[i], Number(e.vaddr));
      assert.is(pm.nrPages[i], e.nr_pages);
    });
    assert.ok(Buffer.from(encodePagemap(pm)).equals(bytes), `${img.set}/${img.name}`);
  }
  const n = 200000;
  const vaddr = new Float64Array(n), nrPages = new Float64Array(n), flags = new Uint32Array(n);
  for (let i = 0; i < n; i++) { vaddr[i] = 0x7f0000000000 + i * 0x10000; nrPages[i] = 1 + (i % 9); flags[i] = i % 2 ? 4 : 6; }
  const b = encodePagemap({ pagesId: 3, vaddr, nrPages, flags });
  const path = join(tmp, 'pagemap-9.img');
  writeFileSync(path, b);
  const back = readPagemap(path);
  assert.is(back.count, n);
  assert.equal(Array.from(back.vaddr.subarray(0, 5)), Array.from(vaddr.subarray(0, 5)));
  assert.is(back.nrPages[n - 1], nrPages[n - 1]);
  assert.is(back.flags[n - 2], flags[n - 2]);
  const img = decodeImage(b);
  assert.is(img.entries[n].vaddr, '0x' + vaddr[n - 1].toString(16));
  assert.is(img.entries[n].flags, 'PE_PRESENT');
  try { readPagemap(b.subarray(0, b.length - 2)); assert.unreachable(); } catch (e) { assert.is((e as TscrError).code, 'E_TRUNCATED'); }
});

test.run();
