// Asking a frozen process about state only it can report, by injected
// syscalls: a scratch page is mmap'ed into the target, syscalls write their
// answers there, tscr reads them with process_vm_readv, and the page is
// unmapped in close(). Registers and code are restored by the shim after
// every single syscall, so an abort at any point leaves at most the scratch
// mapping, which close() removes (call it in a finally).
import { Tracee, findGadget, SYS } from '../ptrace.ts';
import type { MapEntry } from '../proc.ts';
import { ptraceShimRaw } from '../../shim/native.ts';
import { TscrError } from '../errors.ts';

export const SCRATCH_SIZE = 4096;

export class Injector {
  readonly pid: number;
  readonly leader: Tracee;
  gadget: bigint;
  poke: boolean;
  scratch = 0n;
  constructor(pid: number, leader: Tracee, maps: MapEntry[]) {
    this.pid = pid;
    this.leader = leader;
    const g = findGadget(pid, maps);
    this.gadget = g.addr;
    this.poke = g.poke;
  }

  /** Run a syscall in thread t (default the leader); returns rax as bigint (negative = -errno). */
  sys(nr: number, args: (number | bigint)[] = [], t: Tracee = this.leader): bigint {
    return t.syscall(this.gadget, this.poke, nr, ...args);
  }

  open(): bigint {
    const r = this.sys(SYS.mmap, [0, SCRATCH_SIZE, 3 /* RW */, 0x22 /* PRIVATE|ANON */, -1, 0]);
    if (r < 0n && r > -4096n) throw new TscrError('E_DUMP', `could not map a scratch page into process ${this.pid} (errno ${-r})`, { pid: this.pid });
    this.scratch = BigInt.asUintN(64, r);
    return this.scratch;
  }

  /** Read n bytes of the scratch page. */
  read(n: number, off = 0): Buffer {
    const b = Buffer.alloc(n);
    const got = Number(ptraceShimRaw().vm_read(this.pid, this.scratch + BigInt(off), b, n));
    if (got !== n) throw new TscrError('E_DUMP', `could not read the scratch page of process ${this.pid}`, { pid: this.pid });
    return b;
  }

  /** Zero the scratch area before a call that writes to it. */
  clear(n: number): void {
    ptraceShimRaw().vm_write(this.pid, this.scratch, Buffer.alloc(n), n);
  }

  close(): void {
    if (!this.scratch) return;
    const a = this.scratch;
    this.scratch = 0n;
    const r = this.sys(SYS.munmap, [a, SCRATCH_SIZE]);
    if (r !== 0n) throw new TscrError('E_DUMP', `could not remove the scratch page from process ${this.pid} (errno ${-r})`, { pid: this.pid });
  }
}
