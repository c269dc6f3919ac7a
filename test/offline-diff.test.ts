import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DIR, copyShared, cleanup, editImage, tscr } from './helpers/offline.ts';

// The dump engine (branch dump) has no `tscr dump` yet, so the "after" checkpoint
// is made from a copy of the shared `mem` checkpoint by changing known pages in
// pages-1.img (and the pagemap) the way a second dump would record them.
const made: string[] = [];
test.after(() => cleanup(...made));
function copy(n: string) { const c = copyShared(n); made.push(c.root); return c; }
const MEM = join(SHARED_DIR, 'mem', 'images');

function pagemapOf(root: string) {
  const f = readdirSync(join(root, 'crit')).find((x) => /^pagemap-\d+\.json$/.test(x))!;
  const j = JSON.parse(readFileSync(join(root, 'crit', f), 'utf8'));
  let off = 0;
  const rows = j.entries.slice(1).map((e: any, i: number) => { const r = { i: i + 1, vaddr: BigInt(e.vaddr), nr: e.nr_pages, off }; off += e.nr_pages * 4096; return r; });
  return { name: f.replace('.json', ''), rows };
}
async function diffJson(a: string, b: string) {
  const r = await tscr('diff', a, b, '--json');
  return { rc: r.rc, j: JSON.parse(r.out) };
}

test('identical checkpoints: no differences, exit 0', async () => {
  const { rc, j } = await diffJson(MEM, MEM);
  assert.is(rc, 0);
  assert.ok(j.identical);
  assert.is(j.processes[0].pages.same, 1039);
});

test('exactly the pages that changed are reported, in their VMA', async () => {
  const c = copy('mem');
  const pm = pagemapOf(c.root);
  // the 8 MiB mapping: 1024 one-page entries, every other page
  const big = pm.rows.filter((r: any) => r.nr === 1 && r.vaddr > 0x7f0000000000n && r.vaddr < 0x7ff000000000n).slice(0, 1024);
  const pick = [big[0], big[500], big[1023]];
  const pages = join(c.images, 'pages-1.img');
  const b = readFileSync(pages);
  for (const r of pick) b[r.off + 123] ^= 0xff;
  writeFileSync(pages, b);
  const { rc, j } = await diffJson(MEM, c.images);
  assert.is(rc, 1);
  const p = j.processes[0];
  assert.equal(p.pages, { changed: 3, added: 0, removed: 0, same: 1036 });
  assert.equal(p.changedPages.map((x: any) => x.addr).sort(), pick.map((r: any) => '0x' + r.vaddr.toString(16)).sort());
  assert.is(p.vmas.length, 1);
  assert.is(p.vmas[0].pagesChanged, 3);
  assert.is(p.vmas[0].start, '0x' + (pick[0].vaddr).toString(16));
  const t = await tscr('diff', MEM, c.images);
  assert.match(t.out, /pages 3 changed, 0 added, 0 removed/);
  assert.match(t.out, /~ vma 0x7[0-9a-f]+-0x7[0-9a-f]+ rw-p anon: pages 3 changed/);
});

test('pages added and removed, VMA resized, fd closed, process gone', async () => {
  const c = copy('mem');
  const pm = pagemapOf(c.root);
  const big = pm.rows.filter((r: any) => r.nr === 1 && r.vaddr > 0x7f0000000000n && r.vaddr < 0x7ff000000000n);
  const gone = big[10];             // this page is dropped (e.g. madvise(DONTNEED))
  const fresh = big[20].vaddr + 4096n; // this untouched page gets written
  const pages = join(c.images, 'pages-1.img');
  let b = readFileSync(pages);
  const freshData = Buffer.alloc(4096, 0x5a);
  // pages file: remove gone's page, insert fresh after big[20]'s page
  const insAt = big[20].off + 4096;
  b = Buffer.concat([b.subarray(0, gone.off), b.subarray(gone.off + 4096, insAt), freshData, b.subarray(insAt)]);
  writeFileSync(pages, b);
  editImage(c.root, pm.name, (img) => {
    const at = img.entries.findIndex((e: any) => e.vaddr !== undefined && BigInt(e.vaddr) === big[20].vaddr);
    img.entries.splice(at + 1, 0, { vaddr: '0x' + fresh.toString(16), compat_nr_pages: 0, flags: 'PE_PRESENT', nr_pages: 1 });
    img.entries.splice(img.entries.findIndex((e: any) => e.vaddr !== undefined && BigInt(e.vaddr) === gone.vaddr), 1);
  });
  const pid = pm.name.split('-')[1];
  editImage(c.root, `mm-${pid}`, (img) => { const h = img.entries[0].vmas.find((v: any) => v.status.includes('HEAP')); h.end = '0x' + (BigInt(h.end) + 0x10000n).toString(16); });
  editImage(c.root, 'fdinfo-2', (img) => { img.entries = img.entries.filter((e: any) => e.fd !== 2); });
  const v = await tscr('validate', c.images);
  assert.is(v.rc, 0, 'the edited checkpoint is itself consistent: ' + v.out);
  const { j } = await diffJson(MEM, c.images);
  const p = j.processes[0];
  assert.equal(p.pages, { changed: 0, added: 1, removed: 1, same: 1038 });
  assert.equal(p.changedPages, [{ addr: '0x' + gone.vaddr.toString(16), change: 'removed' }, { addr: '0x' + fresh.toString(16), change: 'added' }].sort((x, y) => (BigInt(x.addr) < BigInt(y.addr) ? -1 : 1)));
  assert.ok(p.vmas.some((x: any) => x.status === 'resized' && x.name === '[heap]'));
  assert.is(p.fdsRemoved.length, 1);
  assert.is(p.fdsRemoved[0].fd, 2);
  // process tree
  const t = copy('tree');
  editImage(t.root, 'pstree', (img) => { img.entries = img.entries.slice(0, 1); });
  const r = await diffJson(join(SHARED_DIR, 'tree', 'images'), t.images);
  assert.is(r.j.processesRemoved.length, 1);
  assert.is(r.j.processesAdded.length, 0);
});

test('sockets and connections: queue change, socket gone', async () => {
  const c = copy('tcp');
  const ts = readdirSync(c.images).find((f) => f.startsWith('tcp-stream-'))!.replace('.img', '');
  editImage(c.root, ts, (img) => { img.entries[0].inq_len = 3; img.entries[0].extra = { inq: Buffer.from('abc').toString('base64') + '\n', outq: '' }; });
  editImage(c.root, 'files', (img) => { img.entries = img.entries.filter((e: any) => !(e.isk && e.isk.state === 'LISTEN')); });
  const { rc, j } = await diffJson(join(SHARED_DIR, 'tcp', 'images'), c.images);
  assert.is(rc, 1);
  assert.is(j.socketsRemoved.length, 1);
  assert.match(j.socketsRemoved[0], /LISTEN/);
  assert.is(j.socketsChanged.length, 1);
  assert.match(j.socketsChanged[0].to, /3 bytes queued in/);
  assert.match(j.socketsChanged[0].from, /0 bytes queued in/);
});

test.run();
