// Pure pieces of the dump side: register normalisation, xsave decoding, flag
// strings, device numbers, fd descriptions, /proc parsers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { normalizeRegs, fpregsEntry } from '../lib/dump/task.ts';
import { REG_NAMES, type Regs } from '../lib/ptrace.ts';
import { rfileFlags, devString } from '../lib/kinds/regfile.ts';
import { describeFd } from '../lib/kinds/index.ts';
import { parseMaps } from '../lib/proc.ts';

const regs = (o: Partial<Record<string, bigint>>): Regs => {
  const r = {} as Regs;
  for (const n of REG_NAMES) r[n] = 0n;
  return Object.assign(r, o) as Regs;
};
const neg = (n: bigint) => BigInt.asUintN(64, n);

test('normalizeRegs: interrupted syscalls are rewound as CRIU does', () => {
  for (const code of [-512n, -513n, -514n]) {
    const r = normalizeRegs(regs({ ax: neg(code), orig_ax: 230n, ip: 0x1000n }));
    assert.is(r.ax, 230n);
    assert.is(r.ip, 0xffen);
  }
  const rb = normalizeRegs(regs({ ax: neg(-516n), orig_ax: 230n, ip: 0x1000n }));
  assert.is(rb.ax, neg(-4n), 'ERESTART_RESTARTBLOCK becomes -EINTR');
  assert.is(rb.ip, 0x1000n);
  const user = normalizeRegs(regs({ ax: neg(-512n), orig_ax: neg(-1n), ip: 0x1000n }));
  assert.is(user.ip, 0x1000n, 'not in a syscall: untouched');
});

test('fpregsEntry: fxsave fields and the AVX upper halves', () => {
  const x = Buffer.alloc(832);
  x.writeUInt16LE(0x37f, 0);
  x.writeUInt32LE(0x1f80, 24);
  x.writeUInt32LE(0xdeadbeef, 160);      // xmm0 low word
  x.writeBigUInt64LE(7n, 512);           // xstate_bv: x87 | SSE | AVX
  x.writeUInt32LE(0x12345678, 576);      // ymm0 high, first word
  const fp = fpregsEntry(x);
  assert.is(fp.cwd, 0x37f);
  assert.is(fp.mxcsr, 0x1f80);
  assert.is(fp.xmm_space[0], 0xdeadbeef);
  assert.is(fp.st_space.length, 32);
  assert.is(fp.xmm_space.length, 64);
  assert.is(fp.xsave.xstate_bv, 7);
  assert.is(fp.xsave.ymmh_space[0], 0x12345678);
});

test('rfileFlags and devString speak crit', () => {
  assert.is(rfileFlags(0o100001), 'O_WRONLY | O_LARGEFILE');
  assert.is(rfileFlags(0o102002), 'O_RDWR | O_APPEND | O_LARGEFILE');
  assert.is(rfileFlags(0), '');
  assert.is(devString(0xfe00n), '254:0');
  assert.is(devString(0x103n), '1:3');
});

test('describeFd names what an fd is', () => {
  assert.is(describeFd('anon_inode:inotify', 0), 'inotify');
  assert.is(describeFd('anon_inode:[eventfd]', 0), 'eventfd');
  assert.is(describeFd('pipe:[123]', 0o010600), 'pipe');
  assert.is(describeFd('socket:[9]', 0o140777), 'socket');
  assert.is(describeFd('/dev/pts/3', 0o020620), 'tty');
  assert.is(describeFd('/3', 0o020620, (136n << 8n) | 3n), 'tty'); // a devpts outside the reader's root: by major
  assert.is(describeFd('/dev/null', 0o020666, (1n << 8n) | 3n), 'character device');
  assert.is(describeFd('/memfd:x (deleted)', 0o100777), 'memfd');
  assert.is(describeFd('/dev/sda', 0o060660), 'block device');
});

test('parseMaps reads names, deleted files and offsets', () => {
  const m = parseMaps([
    '00400000-00401000 r--p 00000000 fe:00 123   /bin/x',
    '7f0000000000-7f0000001000 rw-s 00002000 00:01 77   /dev/zero (deleted)',
    '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0   [stack]',
  ].join('\n'));
  assert.is(m.length, 3);
  assert.is(m[0].name, '/bin/x');
  assert.is(m[1].deleted, true);
  assert.is(m[1].name, '/dev/zero');
  assert.is(m[1].pgoff, 0x2000n);
  assert.is(m[2].name, '[stack]');
});

test.run();
