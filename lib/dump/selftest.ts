// Tracer job 'selftest': exercises the shim primitives on a running process
// and undoes everything: seize + interrupt every thread, read registers and
// xstate, inject getpid and an mmap/munmap pair, read memory, detach.
import { Tracee, findGadget, SYS } from '../ptrace.ts';
import { maps, tasks } from '../proc.ts';
import { ptraceShimRaw, alignedBuffer } from '../../shim/native.ts';
import type { JobCtx } from '../tracer.ts';

export function selftest(opts: { pid: number }, ctx: JobCtx) {
  const pid = opts.pid;
  const ts = tasks(pid).map((t) => new Tracee(pid, t));
  const out: any = { pid, threads: ts.length };
  try {
    for (const t of ts) t.seize();
    for (const t of ts) t.interruptAndWait();
    const t0 = ts[0];
    const regs = t0.getRegs();
    out.ip = '0x' + regs.ip.toString(16);
    out.fs_base = '0x' + regs.fs_base.toString(16);
    out.xstateSize = t0.getXstate().length;
    const m = maps(pid);
    const g = findGadget(pid, m);
    out.gadget = { addr: '0x' + g.addr.toString(16), poke: g.poke };
    out.getpid = Number(t0.syscall(g.addr, g.poke, SYS.getpid));
    const addr = t0.syscall(g.addr, g.poke, SYS.mmap, 0, 4096, 3, 0x22, -1, 0);
    out.mmapOk = addr > 0n && addr < (1n << 47n);
    out.munmap = Number(t0.syscall(g.addr, g.poke, SYS.munmap, addr, 4096));
    // the poke path: write `0f 05` over real code, run, put the code back
    const code = m.find((x) => x.prot.includes('x') && x.name !== '[vdso]' && x.name !== '[vsyscall]')!;
    const before = Buffer.alloc(16), after = Buffer.alloc(16);
    ptraceShimRaw().vm_read(pid, code.start, before, 16);
    out.pokeGetpid = Number(t0.syscall(code.start, true, SYS.getpid));
    ptraceShimRaw().vm_read(pid, code.start, after, 16);
    out.codeRestored = before.equals(after);
    const regs2 = t0.getRegs();
    out.regsRestored = regs2.ip === regs.ip && regs2.sp === regs.sp && regs2.ax === regs.ax;
    const stack = m.find((x) => x.name === '[stack]')!;
    const buf = alignedBuffer(4096);
    out.vmRead = Number(ptraceShimRaw().vm_read(pid, stack.end - 4096n, buf, 4096));
    ctx.log(2, `selftest ok on ${pid}`);
  } finally {
    for (const t of ts) t.detach();
  }
  return out;
}
