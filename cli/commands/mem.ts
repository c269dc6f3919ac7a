// tscr mem DIR --pid P [--search S | --regex RE | --hex BYTES | --dump ADDR LEN]
// Offline: memory map, content search and hexdump of a dumped process.
import type { Command } from '../context.ts';
import { usage } from '../context.ts';
import { memoryMap, presentPerVma, perms, search, parseHex, readMemory, hexdump, hex, type Needle } from '../../lib/offline/mem.ts';
import { openCheckpoint, PAGE } from '../../lib/offline/checkpoint.ts';

function parseAddr(s: unknown, what: string): bigint {
  try { const v = BigInt(String(s)); if (v >= 0n) return v; } catch { /* below */ }
  throw usage(`${what} must be a number (decimal or 0x hex), got "${s}"`);
}

const mem: Command = {
  command: 'mem <dir>',
  describe: 'Show the memory map of a dumped process, search its memory, or hexdump it (offline)',
  builder: (y: any) => y
    .positional('dir', { type: 'string', describe: 'image directory' })
    .option('pid', { alias: 'p', type: 'number', describe: 'process to inspect (default: the root of the tree)' })
    .option('all', { type: 'boolean', describe: 'with --search/--regex/--hex: search every process' })
    .option('search', { alias: 's', type: 'string', describe: 'find this string' })
    .option('regex', { alias: 'r', type: 'string', describe: 'find this regular expression (bytes as latin1; matches of up to 64 KiB, or up to 16 MiB when a shorter prefix of them matches)' })
    .option('hex', { type: 'string', describe: 'find these bytes, e.g. "de ad be ef"' })
    .option('dump', { type: 'array', describe: 'hexdump LEN bytes at ADDR: --dump ADDR LEN' })
    .option('max-hits', { type: 'number', default: 1000, describe: 'list at most this many hits' }),
  run(args: any, ctx) {
    const cp = openCheckpoint(String(args.dir));
    const procs = cp.procs();
    if (!procs.length) throw usage(`no processes in ${args.dir}`, 'run `tscr validate` on it');
    const p = args.pid !== undefined ? cp.proc(Number(args.pid)) : procs.find((x) => x.ppid === 0) ?? procs[0];
    const modes = ['search', 'regex', 'hex', 'dump'].filter((k) => args[k] !== undefined);
    if (modes.length > 1) throw usage(`choose one of --search, --regex, --hex, --dump (got ${modes.map((m) => '--' + m).join(', ')})`);
    if (args.dump !== undefined) {
      const d = args.dump as unknown[];
      if (d.length !== 2) throw usage('--dump takes two values: ADDR LEN', 'e.g. --dump 0x7ffd1000 256');
      const addr = parseAddr(d[0], 'ADDR');
      const len = Number(parseAddr(d[1], 'LEN'));
      const { data, present } = readMemory(cp, p, addr, len);
      if (ctx.jsonMode) {
        ctx.json({ pid: p.pid, addr: hex(addr), length: len, hex: Buffer.from(data).toString('hex'), present: Array.from(present).every(Boolean) ? 'all' : Buffer.from(present).toString('hex') });
      } else {
        ctx.out(hexdump(addr, data, present));
        if (!present.every(Boolean)) ctx.out('?? = page not in the dump (never touched, or file-backed and clean)\n');
      }
      return 0;
    }
    if (modes.length === 1) {
      let needle: Needle;
      if (args.search !== undefined) {
        if (!String(args.search).length) throw usage('--search needs a non-empty string');
        needle = { kind: 'string', bytes: Buffer.from(String(args.search), 'utf8') };
      } else if (args.hex !== undefined) needle = { kind: 'hex', bytes: parseHex(String(args.hex)) };
      else {
        let re: RegExp;
        try { re = new RegExp(String(args.regex), 'g'); } catch (e) { throw usage(`bad --regex: ${(e as Error).message}`); }
        needle = { kind: 'regex', re };
      }
      const targets = args.all ? procs : [p];
      const results = targets.map((t) => {
        const prog = ctx.progress(`search pid ${t.pid}`, 'bytes');
        const r = search(cp, t, needle, Number(args['max-hits']), (d, tot) => prog.update(d, tot));
        prog.end();
        return { pid: t.pid, ...r };
      });
      if (ctx.jsonMode) {
        const one = (r: typeof results[0]) => ({ pid: r.pid, total: r.total, searchedBytes: r.bytes, hits: r.hits });
        ctx.json(args.all ? { processes: results.map(one), total: results.reduce((a, r) => a + r.total, 0) } : one(results[0]));
      } else {
        for (const r of results) {
          ctx.out(r.hits.map((h) => `${args.all ? `${r.pid} ` : ''}${h.addr}  ${h.vma} +${h.offsetInVma}  "${h.context}"\n`).join(''));
          ctx.out(`${r.total} hit(s) in ${(r.bytes / 1048576).toFixed(1)} MiB of pid ${r.pid}${r.total > r.hits.length ? ` (first ${r.hits.length} listed)` : ''}\n`);
        }
      }
      return 0;
    }
    if (ctx.jsonMode) { ctx.json({ pid: p.pid, comm: p.comm, vmas: memoryMap(p) }); return 0; }
    // Text straight from the model, in 64 KiB pieces (ctx.out gathers them into large
    // writes): no row objects, and the text does not outlive its piece (less GC work).
    const vm = p.vmas, present = presentPerVma(p, cp);
    let text = `pid ${p.pid} (${p.comm}): ${vm.length} VMAs\n` +
      `${'start'.padEnd(18)} ${'end'.padEnd(18)} perm ${'size'.padStart(10)} ${'dumped'.padStart(9)}  kind      name\n`;
    for (let i = 0; i < vm.length; i++) {
      const v = vm[i], size = v.end - v.start;
      text += `${('0x' + v.start.toString(16)).padEnd(18)} ${('0x' + v.end.toString(16)).padEnd(18)} ${perms(v)} ${String(Math.floor(size / 1024)).padStart(8)}K ${String(present[i]).padStart(5)}/${String(Math.floor(size / PAGE)).padEnd(5)} ${v.kind.padEnd(9)} ${v.name}\n`;
      if (text.length >= 1 << 16) { ctx.out(text); text = ''; }
    }
    ctx.out(text);
    return 0;
  },
};
export default mem;
