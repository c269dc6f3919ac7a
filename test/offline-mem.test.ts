import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { SHARED_DIR, tscr } from './helpers/offline.ts';

const MEM = join(SHARED_DIR, 'mem', 'images');
const LOOP = join(SHARED_DIR, 'loop', 'images');

test('memory map lists VMAs with dumped page counts', async () => {
  const r = await tscr('mem', MEM, '--json');
  assert.is(r.rc, 0);
  const j = JSON.parse(r.out);
  const big = j.vmas.find((v: any) => v.size === 8 << 20);
  assert.ok(big, 'the 8 MiB mapping is listed');
  assert.is(big.presentPages, 1024); // every other page was written
  assert.is(big.perms, 'rw-p');
  assert.ok(j.vmas.some((v: any) => v.name === '[heap]'));
  assert.ok(j.vmas.some((v: any) => v.name === '[stack]'));
});

test('--hex finds the fixture pattern at its address, --dump shows it', async () => {
  // mem.c writes a[j] = j * 2246822519 (0x85ebca77) into the first page: a[1] is at +4
  const r = await tscr('mem', MEM, '--hex', '77 ca eb 85', '--json');
  const j = JSON.parse(r.out);
  assert.is(j.total, 1);
  const map = JSON.parse((await tscr('mem', MEM, '--json')).out);
  const big = map.vmas.find((v: any) => v.size === 8 << 20);
  assert.is(j.hits[0].addr, '0x' + (BigInt(big.start) + 4n).toString(16));
  assert.is(j.hits[0].offsetInVma, '0x4');
  const d = await tscr('mem', MEM, '--dump', big.start, '16');
  assert.is(d.rc, 0);
  assert.match(d.out, /00 00 00 00 77 ca eb 85 +ee 94 d7 0b/);
  // the second page was never touched: not in the dump
  const z = await tscr('mem', MEM, '--dump', '0x' + (BigInt(big.start) + 4096n).toString(16), '16');
  assert.match(z.out, /\?\? \?\?/);
});

test('--search and --regex find strings with VMA names', async () => {
  const s = JSON.parse((await tscr('mem', LOOP, '--search', '/tmp/tscr-fixtures/out/loop', '--json')).out);
  assert.ok(s.total >= 1);
  assert.ok(s.hits.every((h: any) => /\[stack\]|\[heap\]|rw/.test(h.vma)));
  const r = JSON.parse((await tscr('mem', LOOP, '--regex', 'tscr-fixtures/[a-z]+', '--json')).out);
  assert.ok(r.total >= s.total);
  assert.match(r.hits[0].match, /^tscr-fixtures\/[a-z]+$/);
});

test('--all searches every process of a tree', async () => {
  const r = JSON.parse((await tscr('mem', join(SHARED_DIR, 'tree', 'images'), '--all', '--search', 'tscr-fixtures', '--json')).out);
  assert.is(r.processes.length, 2);
  assert.ok(r.processes.every((p: any) => p.total > 0));
});

test('bad input: unknown pid, bad hex, two modes', async () => {
  const a = await tscr('mem', LOOP, '--pid', '1');
  assert.is(a.rc, 1); assert.match(a.err, /pid 1 is not in this checkpoint/);
  const b = await tscr('mem', LOOP, '--hex', 'xyz');
  assert.is(b.rc, 2); assert.match(b.err, /hex digits/);
  const c = await tscr('mem', LOOP, '--hex', 'ab', '--search', 'x');
  assert.is(c.rc, 2);
});

test.run();
