// tscr check: probe the kernel once and say which checkpoint/restore features work.
import type { Command } from '../context.ts';

const rows: [string, string][] = [
  ['ptraceSeize', 'PTRACE_SEIZE / INTERRUPT'], ['syscallInjection', 'syscall injection'], ['ptraceGetRseq', 'PTRACE_GET_RSEQ_CONFIGURATION'],
  ['pagemapScan', 'PAGEMAP_SCAN ioctl'], ['softDirty', 'soft-dirty bits (pre-dump)'], ['userfaultfd', 'userfaultfd (lazy pages)'], ['memTracking', 'memory write tracking (userfaultfd WP_ASYNC: dump --track-mem)'],
  ['clone3SetTid', 'clone3 with set_tid'], ['nsLastPid', 'ns_last_pid writable'], ['pidfdOpen', 'pidfd_open'], ['pidfdGetfd', 'pidfd_getfd'],
  ['kcmp', 'kcmp'], ['mapFiles', '/proc/PID/map_files'], ['timeNamespaces', 'time namespaces'], ['tcpRepair', 'TCP repair (needs CAP_NET_ADMIN)'],
  ['checkpointRestoreCap', 'CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN'],
];
const needed = ['ptraceSeize', 'syscallInjection', 'pidfdOpen', 'pidfdGetfd', 'kcmp', 'mapFiles'];

const check: Command = {
  command: 'check',
  describe: 'Probe the kernel and list which checkpoint/restore features work here',
  needsShim: true,
  async run(_args, ctx) {
    const { runInTracer } = await import('../../lib/tracer.ts');
    const caps: any = await runInTracer('caps', {});
    const missing = needed.filter((k) => !caps[k]);
    if (ctx.jsonMode) { ctx.json({ ...caps, ok: missing.length === 0, missing }); return missing.length ? 1 : 0; }
    ctx.out(`kernel ${caps.kernel} (${caps.arch})\n`);
    for (const [k, label] of rows) ctx.out(`  ${caps[k] ? 'yes' : 'no '}  ${label}${needed.includes(k) ? '' : ' (optional)'}\n`);
    ctx.out(`  xstate size: ${caps.xstateSize} bytes\n`);
    ctx.out(`  vdso layout: ${caps.vdso.layout.map((x: string) => `[${x}]`).join(' ')} (${caps.vdso.vvarPages} vvar pages, ${caps.vdso.vdsoPages} vdso pages)\n`);
    if (missing.length) { ctx.err(`tscr: dump/restore cannot work here: missing ${missing.join(', ')}`); return 1; }
    ctx.out('Looks good: dump and restore can work here.\n');
    return 0;
  },
};
export default check;
