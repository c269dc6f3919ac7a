// The core's fast readers of mm and pagemap images (val_mm, val_pagemap) give
// exactly the model that the full codec decoding gives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { NAMES, SHARED_DIR } from './helpers/offline.ts';
import { openCheckpoint, addr, u64 } from '../lib/offline/checkpoint.ts';

const j = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

test('fast path == codec path on every shared checkpoint', () => {
  for (const n of NAMES) {
    const dir = join(SHARED_DIR, n, 'images');
    const fast = openCheckpoint(dir), slow = openCheckpoint(dir);
    (slow as any).fast = () => null;
    assert.ok(fast.procs().length > 0);
    fast.procs().forEach((p, i) => {
      const q = slow.procs()[i];
      assert.ok(fast.fast(`mm-${p.pid}.img`), `${n}: val_mm read mm-${p.pid}.img`);
      assert.ok(fast.fast(`pagemap-${p.pid}.img`), `${n}: val_pagemap read pagemap-${p.pid}.img`);
      assert.is(j(p.vmas), j(q.vmas), `${n} pid ${p.pid} VMAs`);
      assert.is(j(p.pm), j(q.pm), `${n} pid ${p.pid} pagemap`);
      assert.is(p.pagesId, q.pagesId);
      assert.is(fast.exeFileId(p.pid), slow.exeFileId(p.pid));
    });
  }
});

test('addresses as Numbers: page-aligned 64-bit values are exact; inexact ones stay unaligned', () => {
  assert.is(addr('0xffffffffff600000').toString(16), 'ffffffffff600000'); // vsyscall
  assert.is(u64(0xff600000, 0xffffffff).toString(16), 'ffffffffff600000');
  assert.is(u64(0x12345678, 0x7fff), 0x7fff12345678);
  for (const x of ['0xffffffffff600001', '0xfffffffffffffff1', '0x20000000000001', '0xfffffffffffff001']) {
    const n = addr(x);
    assert.ok(n % 4096 !== 0, `${x} -> ${n.toString(16)} must stay unaligned`);
    assert.ok(n < 2 ** 64);
  }
});

test.run();
