import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, unlinkSync, truncateSync, appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NAMES, SHARED_DIR, copyShared, cleanup, editImage, tscr } from './helpers/offline.ts';

const made: string[] = [];
function copy(name: string) { const c = copyShared(name); made.push(c.root); return c; }
test.after(() => cleanup(...made));

async function findings(dir: string) {
  const r = await tscr('validate', dir, '--json');
  const j = JSON.parse(r.out);
  return { rc: r.rc, j, codes: j.findings.map((f: any) => `${f.code}@${f.file}`) as string[] };
}
function pidOf(dir: string) {
  return Number(readdirSync(dir).find((f) => /^core-\d+\.img$/.test(f))!.match(/\d+/)![0]);
}
async function expectFinding(dir: string, code: string, file: string, extra?: (f: any) => void) {
  const { rc, j, codes } = await findings(dir);
  assert.is(rc, 1, `exit code for ${code}`);
  const f = j.findings.find((x: any) => x.code === code && x.file === file);
  assert.ok(f, `expected ${code} in ${file}; got ${codes.join(', ')}`);
  assert.ok(['error', 'warning'].includes(f.severity));
  assert.type(f.offset, 'number');
  extra?.(f);
  return f;
}

test('every shared reference checkpoint validates clean (exit 0)', async () => {
  for (const n of NAMES) {
    const r = await tscr('validate', join(SHARED_DIR, n, 'images'));
    assert.is(r.rc, 0, `${n}: ${r.out}`);
    assert.match(r.out, /^clean: 0 error\(s\), 0 warning\(s\)/m);
  }
});

test('text output is one "SEVERITY file:offset: message" line per finding', async () => {
  const c = copy('loop');
  const pid = pidOf(c.images);
  truncateSync(join(c.images, `core-${pid}.img`), 1000);
  const r = await tscr('validate', c.images);
  assert.is(r.rc, 1);
  assert.match(r.out, new RegExp(`^ERROR core-${pid}\\.img:\\d+: .*truncated`, 'm'));
});

test('truncated entry: offset of the cut entry', async () => {
  const c = copy('loop');
  truncateSync(join(c.images, 'pstree.img'), 20);
  const f = await expectFinding(c.images, 'frame.truncated', 'pstree.img');
  assert.is(f.offset, 8); // the first entry's size word follows the two magic words
});

test('garbled protobuf that the framing accepts', async () => {
  const c = copy('loop');
  const p = join(c.images, 'pstree.img');
  const b = readFileSync(p);
  b[12] = 0x0f; // first key of the first entry: field 1, wire type 7 (does not exist)
  writeFileSync(p, b);
  const f = await expectFinding(c.images, 'frame.bad-protobuf', 'pstree.img');
  assert.is(f.offset, 12);
});

test('absurd entry size', async () => {
  const c = copy('loop');
  const p = join(c.images, 'pstree.img');
  const b = readFileSync(p);
  b.writeUInt32LE(0x7fffffff, 8);
  writeFileSync(p, b);
  await expectFinding(c.images, 'frame.too-large', 'pstree.img');
});

test('unknown image kind is reported', async () => {
  const c = copy('loop');
  const b = Buffer.alloc(12); b.writeUInt32LE(0x54564319, 0); b.writeUInt32LE(0x12345678, 4);
  writeFileSync(join(c.images, 'mystery.img'), b);
  const f = await expectFinding(c.images, 'file.unknown-kind', 'mystery.img');
  assert.is(f.severity, 'warning');
  assert.match(f.message, /0x12345678/);
});

test('pages file shorter than the pagemap needs', async () => {
  const c = copy('mem');
  const p = join(c.images, 'pages-1.img');
  truncateSync(p, readFileSync(p).length - 4096);
  await expectFinding(c.images, 'pages.short', 'pages-1.img', (f) => assert.match(f.message, /truncated/));
});

test('pages file longer than the pagemap accounts for', async () => {
  const c = copy('loop');
  appendFileSync(join(c.images, 'pages-1.img'), Buffer.alloc(4096, 1));
  await expectFinding(c.images, 'pages.long', 'pages-1.img');
});

test('pagemap entry reaching outside the VMAs, and overlapping entries', async () => {
  const c = copy('loop');
  const pid = pidOf(c.images);
  editImage(c.root, `pagemap-${pid}`, (img) => { img.entries[1].vaddr = '0x10000'; });
  await expectFinding(c.images, 'pagemap.outside-vma', `pagemap-${pid}.img`, (f) => assert.match(f.message, /#1/));
  const d = copy('loop');
  editImage(d.root, `pagemap-${pid}`, (img) => { img.entries[2].vaddr = img.entries[1].vaddr; });
  await expectFinding(d.images, 'pagemap.overlap', `pagemap-${pid}.img`);
});

test('pagemap page count disagrees with the pages file', async () => {
  const c = copy('loop');
  const pid = pidOf(c.images);
  editImage(c.root, `pagemap-${pid}`, (img) => { img.entries[img.entries.length - 1].nr_pages += 1; });
  await expectFinding(c.images, 'pages.short', 'pages-1.img');
});

test('overlapping VMAs', async () => {
  const c = copy('loop');
  const pid = pidOf(c.images);
  editImage(c.root, `mm-${pid}`, (img) => { img.entries[0].vmas[1].start = img.entries[0].vmas[0].start; });
  await expectFinding(c.images, 'vma.overlap', `mm-${pid}.img`);
});

test('pstree: orphan parent, missing leader thread, duplicate pid', async () => {
  const a = copy('tree');
  editImage(a.root, 'pstree', (img) => { img.entries[1].ppid = 4242; });
  await expectFinding(a.images, 'pstree.orphan', 'pstree.img');
  const b = copy('threads');
  editImage(b.root, 'pstree', (img) => { img.entries[0].threads = img.entries[0].threads.slice(1); });
  await expectFinding(b.images, 'pstree.leader-missing', 'pstree.img');
  const c = copy('tree');
  editImage(c.root, 'pstree', (img) => { img.entries[1].pid = img.entries[0].pid; });
  await expectFinding(c.images, 'pstree.duplicate-pid', 'pstree.img');
});

test('pstree: a loop in the parent links', async () => {
  const a = copy('tree');
  editImage(a.root, 'pstree', (img) => { img.entries[0].ppid = img.entries[1].pid; });
  await expectFinding(a.images, 'pstree.cycle', 'pstree.img');
  await expectFinding(a.images, 'pstree.roots', 'pstree.img');
});

test('namespaces: a child in a network namespace of its own with no netns image, root_ids that disagree, an image nobody uses', async () => {
  const a = copy('tree');
  editImage(a.root, 'ids-21179', (img) => { img.entries[0].net_ns_id = 99; });
  await expectFinding(a.images, 'ns.missing', 'ids-21179.img', (f) => assert.match(f.message, /network namespace of its own \(id 99\).*netns-99\.img is missing/));
  const b = copy('tree');
  editImage(b.root, 'inventory', (img) => { img.entries[0].root_ids.uts_ns_id = 77; });
  await expectFinding(b.images, 'ns.root-mismatch', 'inventory.img');
  const c = copy('loop');
  writeFileSync(join(c.images, 'timens-9.img'), readFileSync(join(c.images, 'timens-0.img')));
  await expectFinding(c.images, 'ns.unreferenced', 'timens-9.img');
});

test('missing per-process images: core of a thread, fdinfo', async () => {
  const a = copy('threads');
  const tid = readdirSync(a.images).filter((f) => /^core-\d+\.img$/.test(f)).sort().pop()!;
  unlinkSync(join(a.images, tid));
  await expectFinding(a.images, 'missing.core', 'pstree.img', (f) => assert.match(f.message, new RegExp(tid.replace('.', '\\.'))));
  const f = copy('loop');
  unlinkSync(join(f.images, `fs-${pidOf(f.images)}.img`));
  await expectFinding(f.images, 'missing.fs', 'pstree.img');
  const b = copy('loop');
  unlinkSync(join(b.images, 'fdinfo-2.img'));
  await expectFinding(b.images, 'missing.fdinfo', `ids-${pidOf(b.images)}.img`);
});

test('fd naming a file id that files.img lacks, and a type mismatch', async () => {
  const a = copy('sockets');
  editImage(a.root, 'fdinfo-2', (img) => { img.entries[3].id = 999; });
  await expectFinding(a.images, 'fdinfo.dangling-id', 'fdinfo-2.img', (f) => assert.match(f.message, /fd 3 names file id 999/));
  const b = copy('sockets');
  editImage(b.root, 'fdinfo-2', (img) => { img.entries[5].type = 'PIPE'; });
  await expectFinding(b.images, 'fdinfo.type-mismatch', 'fdinfo-2.img');
});

test('duplicate fd numbers and duplicate file ids', async () => {
  const a = copy('loop');
  editImage(a.root, 'fdinfo-2', (img) => { img.entries[1].fd = img.entries[0].fd; });
  await expectFinding(a.images, 'fdinfo.duplicate-fd', 'fdinfo-2.img');
  const b = copy('loop');
  editImage(b.root, 'files', (img) => { img.entries[1].id = img.entries[0].id; img.entries[1].reg.id = img.entries[0].id; });
  await expectFinding(b.images, 'files.duplicate-id', 'files.img');
});

test('shared ids: socket peer, socket queue, pipe data, ghost file, TCP stream, exe file', async () => {
  const a = copy('sockets');
  editImage(a.root, 'files', (img) => { const u = img.entries.find((e: any) => e.usk); u.usk.peer = 77777; });
  await expectFinding(a.images, 'unixsk.dangling-peer', 'files.img');
  const b = copy('sockets');
  editImage(b.root, 'sk-queues', (img) => { img.entries[0].id_for = 999; });
  await expectFinding(b.images, 'skqueue.dangling', 'sk-queues.img');
  const c = copy('tree');
  editImage(c.root, 'pipes-data', (img) => { img.entries[0].pipe_id = 1; });
  await expectFinding(c.images, 'pipedata.dangling', 'pipes-data.img');
  const d = copy('files');
  unlinkSync(join(d.images, 'ghost-file-1.img'));
  await expectFinding(d.images, 'remap.no-ghost', 'remap-fpath.img');
  const e = copy('tcp');
  const ts = readdirSync(e.images).find((f) => f.startsWith('tcp-stream-'))!;
  unlinkSync(join(e.images, ts));
  await expectFinding(e.images, 'tcp.no-stream', 'files.img');
  const f = copy('loop');
  const pid = pidOf(f.images);
  editImage(f.root, `mm-${pid}`, (img) => { img.entries[0].exe_file_id = 555; });
  await expectFinding(f.images, 'mm.dangling-exe', `mm-${pid}.img`);
});

test('fs, memfd and epoll references', async () => {
  const a = copy('loop');
  const pid = pidOf(a.images);
  editImage(a.root, `fs-${pid}`, (img) => { img.entries[0].cwd_id = 4444; });
  await expectFinding(a.images, 'fs.dangling', `fs-${pid}.img`);
  const b = copy('sockets');
  editImage(b.root, 'files', (img) => { img.entries.find((e: any) => e.memfd).memfd.inode_id = 9; });
  await expectFinding(b.images, 'memfd.dangling-inode', 'files.img');
  const c = copy('sockets');
  editImage(c.root, 'files', (img) => { img.entries.find((e: any) => e.epfd).epfd.tfd[0].tfd = 99; });
  await expectFinding(c.images, 'epoll.dangling-target', 'files.img');
});

test('archives: a converted checkpoint validates clean; a flipped byte is found', async () => {
  const c = copy('loop');
  const arc = join(c.root, 'loop.tscr');
  const cv = await tscr('convert', c.images, arc);
  assert.is(cv.rc, 0, cv.err);
  const ok = await tscr('validate', arc);
  assert.is(ok.rc, 0, ok.out);
  const b = readFileSync(arc);
  b[Math.floor(b.length / 3)] ^= 0x55;
  writeFileSync(arc, b);
  const bad = await tscr('validate', arc, '--json');
  assert.is(bad.rc, 1);
  const text = bad.out + bad.err;
  assert.match(text, /archive|hash|corrupt|block/i);
});

test('not a checkpoint: clear error with a hint', async () => {
  const r = await tscr('validate', '/nonexistent/dir');
  assert.is(r.rc, 1);
  assert.match(r.err, /no checkpoint at \/nonexistent\/dir/);
  assert.match(r.err, /hint:/);
});

test.run();
