// tscr dump on each self-checking fixture with --leave-running: the images say
// what /proc says (pids, threads, VMAs, registers, pages), and the fixture then
// passes its own self-check.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, runTscr, treePids, type Fixture } from './helpers/fixture.ts';
import { readImage, big } from './helpers/images.ts';

const PAGE = 4096;

async function dumpFixture(name: string, args: string[] = []) {
  const fx = await startFixture(name, args);
  const dir = mkdtempSync(join(tmpdir(), `tscr-img-${name}-`));
  const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R', '--json']);
  if (r.code !== 0) { fx.kill(); throw new Error(`dump failed (${r.code}): ${r.stderr}`); }
  return { fx, dir, res: JSON.parse(r.stdout), done: () => { fx.kill(); rmSync(dir, { recursive: true, force: true }); } };
}

function tracerPid(pid: number): number {
  return Number(/TracerPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

function procMaps(pid: number) {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n').map((l) => {
    const [range, perms, , , , name = ''] = l.split(/\s+/);
    const [s, e] = range.split('-');
    return { start: BigInt('0x' + s), end: BigInt('0x' + e), perms, name };
  });
}

async function commonChecks(fx: Fixture, dir: string) {
  const pstree = (await readImage(dir, 'pstree.img')).entries;
  const pids = treePids(fx.pid);
  assert.equal(pstree.map((e) => e.pid).sort(), [...pids].sort(), 'pstree has every process of the tree');
  for (const e of pstree) {
    const st = readFileSync(`/proc/${e.pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    if (e.pid !== fx.pid) assert.is(e.ppid, Number(f[1]), `ppid of ${e.pid}`);
    assert.is(e.pgid, Number(f[2]), `pgid of ${e.pid}`);
    assert.is(e.sid, Number(f[3]), `sid of ${e.pid}`);
    const tids = (await import('node:fs')).readdirSync(`/proc/${e.pid}/task`).map(Number).sort((a, b) => a - b);
    assert.equal([...e.threads].sort((a: number, b: number) => a - b), tids, `threads of ${e.pid}`);
    for (const t of e.threads) {
      const core = (await readImage(dir, `core-${t}.img`)).entries[0];
      assert.is(core.mtype, 'X86_64');
      const g = core.thread_info.gpregs;
      const ip = big(g.ip);
      const m = procMaps(e.pid).find((x) => ip >= x.start && ip < x.end);
      assert.ok(m && m.perms.includes('x'), `ip ${g.ip} of ${t} is in executable memory`);
      assert.ok(big(g.fs_base) !== 0n, 'fs_base recorded');
      assert.ok(core.thread_info.fpregs.xsave, 'xsave recorded');
      assert.is(core.thread_core.comm, readFileSync(`/proc/${e.pid}/task/${t}/comm`, 'utf8').trim());
    }
    // VMAs: every mapping of /proc (vvar + vvar_vclock merged as CRIU does)
    const mm = (await readImage(dir, `mm-${e.pid}.img`)).entries[0];
    const live = procMaps(e.pid).filter((x) => x.name !== '[vvar_vclock]');
    assert.is(mm.vmas.length, live.length, `VMA count of ${e.pid}`);
    mm.vmas.forEach((v: any, i: number) => assert.is(big(v.start), live[i].start, `VMA ${i} start`));
    // pages: the pages file holds exactly the pagemap's pages, equal to live memory for stable pages
    const pm = (await readImage(dir, `pagemap-${e.pid}.img`)).entries;
    const nr = pm.slice(1).reduce((a: number, x: any) => a + Number(x.nr_pages), 0);
    let prevEnd = 0n;
    for (const x of pm.slice(1)) {
      assert.ok(big(x.vaddr) >= prevEnd, `pagemap entries in order, no overlap (${x.vaddr})`);
      prevEnd = big(x.vaddr) + BigInt(x.nr_pages) * BigInt(PAGE);
    }
    assert.is(statSync(join(dir, `pages-${pm[0].pages_id}.img`)).size, nr * PAGE, 'pages file size');
  }
  assert.is(tracerPid(fx.pid), 0, 'no tracer left');
}

/** Compare stored pages of VMAs that do not change (read-only / PROT_NONE) with /proc/PID/mem. */
async function comparePages(pid: number, dir: string, pred: (v: any) => boolean) {
  const mm = (await readImage(dir, `mm-${pid}.img`)).entries[0];
  const pm = (await readImage(dir, `pagemap-${pid}.img`)).entries;
  const pages = openSync(join(dir, `pages-${pm[0].pages_id}.img`), 'r');
  const mem = openSync(`/proc/${pid}/mem`, 'r');
  let off = 0, compared = 0;
  try {
    for (const e of pm.slice(1)) {
      for (let i = 0; i < Number(e.nr_pages); i++, off += PAGE) {
        const va = big(e.vaddr) + BigInt(i * PAGE);
        const v = mm.vmas.find((x: any) => va >= big(x.start) && va < big(x.end));
        if (!v || !pred(v)) continue;
        const a = Buffer.alloc(PAGE), b = Buffer.alloc(PAGE);
        readSync(pages, a, 0, PAGE, off);
        readSync(mem, b, 0, PAGE, Number(va));
        assert.ok(a.equals(b), `page ${va.toString(16)} equals live memory`);
        compared++;
      }
    }
  } finally { closeSync(pages); closeSync(mem); }
  return compared;
}

test('memory: sparse, read-only, PROT_NONE, heap; only present pages stored', async () => {
  const d = await dumpFixture('memory', ['8']);
  try {
    await commonChecks(d.fx, d.dir);
    const ro = await comparePages(d.fx.pid, d.dir, (v) => v.prot === 'PROT_READ' && v.status.includes('ANON'));
    assert.ok(ro >= 16, `read-only pages compared: ${ro}`);
    const none = await comparePages(d.fx.pid, d.dir, (v) => v.prot === '' && !v.status.includes('VSYSCALL'));
    assert.is(none, 4, 'the 4 PROT_NONE pages were stored (through /proc/PID/mem)');
    assert.ok(d.res.bytes < 16 << 20, `the 256 MiB reserved range is not stored (${d.res.bytes} bytes)`);
    assert.ok(d.res.bytes >= 5 << 20, 'patterned pages stored');
    assert.ok(d.res.bytes < 6 << 20, `untouched pages of the sparse region not stored (${d.res.bytes} bytes)`);
    assert.is(await d.fx.check(), 'PASS');
  } finally { d.done(); }
});

test('memory without PAGEMAP_SCAN (the /proc/PID/pagemap fallback) stores the same pages', async () => {
  const fx = await startFixture('memory', ['4']);
  const dirs = [mkdtempSync(join(tmpdir(), 'tscr-img-scan-')), mkdtempSync(join(tmpdir(), 'tscr-img-noscan-'))];
  try {
    const a = await runTscr(['dump', '-t', String(fx.pid), '-D', dirs[0], '-R']);
    const b = await runTscr(['dump', '-t', String(fx.pid), '-D', dirs[1], '-R'], { env: { TSCR_NO_PAGEMAP_SCAN: '1' } });
    assert.is(a.code, 0, a.stderr);
    assert.is(b.code, 0, b.stderr);
    const pages = async (d: string) => {
      const set = new Set<bigint>();
      for (const e of (await readImage(d, `pagemap-${fx.pid}.img`)).entries.slice(1)) for (let i = 0; i < Number(e.nr_pages); i++) set.add(big(e.vaddr) + BigInt(i * PAGE));
      return set;
    };
    const pa = await pages(dirs[0]), pb = await pages(dirs[1]);
    for (const v of pa) assert.ok(pb.has(v), `fallback stores ${v.toString(16)} too`);
    assert.ok(pb.size - pa.size <= 16, `fallback stores at most a few more (zero-pfn) pages: ${pb.size} vs ${pa.size}`);
    assert.is(await fx.check(), 'PASS');
  } finally { fx.kill(); for (const d of dirs) rmSync(d, { recursive: true, force: true }); }
});

test('tree: sessions and groups', async () => {
  const d = await dumpFixture('tree');
  try {
    assert.is(d.res.processes, 4);
    await commonChecks(d.fx, d.dir);
    const ps = (await readImage(d.dir, 'pstree.img')).entries;
    assert.is(new Set(ps.map((e: any) => e.sid)).size, 2, 'two sessions');
    assert.is(new Set(ps.map((e: any) => e.pgid)).size, 3, 'three groups');
    assert.is(ps[0].pid, d.fx.pid, 'root first');
    const cores = await Promise.all(ps.map(async (e: any) => (await readImage(d.dir, `core-${e.pid}.img`)).entries[0]));
    assert.ok(cores.some((c: any) => c.thread_core.pdeath_sig === 15), 'child a has its parent-death signal recorded');
    assert.is(await d.fx.check(), 'PASS');
  } finally { d.done(); }
});

test('forker: a tree that forks and clones nonstop is frozen consistently (8 dumps)', async () => {
  const fx = await startFixture('forker');
  const dir = mkdtempSync(join(tmpdir(), 'tscr-img-forker-'));
  try {
    for (let i = 0; i < 8; i++) {
      rmSync(dir, { recursive: true, force: true });
      const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R', '--json']);
      assert.is(r.code, 0, r.stderr);
      const ps = (await readImage(dir, 'pstree.img')).entries;
      assert.is(ps[0].pid, fx.pid);
      for (const e of ps) {
        assert.ok(e.threads.length >= 1);
        for (const t of e.threads) assert.is((await readImage(dir, `core-${t}.img`)).entries[0].mtype, 'X86_64', `core of ${t}`);
      }
      assert.is(tracerPid(fx.pid), 0);
    }
    assert.is(await fx.check(), 'PASS');
  } finally { fx.kill(); rmSync(dir, { recursive: true, force: true }); }
});

test('threads: one core per thread, distinct TLS bases', async () => {
  const d = await dumpFixture('threads');
  try {
    assert.is(d.res.threads, 4);
    await commonChecks(d.fx, d.dir);
    const ps = (await readImage(d.dir, 'pstree.img')).entries[0];
    const bases = new Set<string>();
    for (const t of ps.threads) bases.add((await readImage(d.dir, `core-${t}.img`)).entries[0].thread_info.gpregs.fs_base);
    assert.is(bases.size, 4, 'each thread has its own fs_base');
    const sec = (await readImage(d.dir, `core-${ps.threads[1]}.img`)).entries[0];
    assert.not.ok(sec.tc, 'only the leader has task_core');
    assert.ok(sec.thread_core.blk_sigset !== undefined);
    assert.is(await d.fx.check(), 'PASS');
  } finally { d.done(); }
});

test('signals: handlers, masks, pending, itimers, POSIX timer, altstack', async () => {
  const d = await dumpFixture('signals');
  try {
    await commonChecks(d.fx, d.dir);
    const c = (await readImage(d.dir, `core-${d.fx.pid}.img`)).entries[0];
    assert.is(c.tc.sigactions.length, 62);
    const usr2 = c.tc.sigactions[12 - 1 - 1]; // signals 1..8, then 10.. (9 skipped): SIGUSR2=12 -> index 10
    void usr2;
    const byNo = (n: number) => c.tc.sigactions[n < 9 ? n - 1 : n < 19 ? n - 2 : n - 3];
    assert.ok(big(byNo(12).flags) & 4n, 'SIGUSR2 has SA_SIGINFO');
    assert.is(byNo(1).sigaction, '0x1', 'SIGHUP ignored');
    assert.is(c.tc.timers.real.isec, 500);
    assert.ok(c.tc.timers.real.vsec >= 900);
    assert.is(c.tc.timers.virt.iusec, 250000);
    assert.is(c.tc.timers.posix.length, 1);
    assert.is(c.tc.timers.posix[0].isec, 700);
    assert.is(c.tc.timers.posix[0].si_signo, 37);
    assert.is(c.tc.signals_s.signals.length, 3, 'two queued RT signals and SIGPIPE pending on the process');
    assert.is(c.thread_core.signals_p.signals.length, 1, 'SIGINT pending on the thread');
    assert.is(c.thread_core.sas.ss_size, 65536);
    assert.ok(big(c.tc.blk_sigset) & (1n << 1n), 'SIGINT blocked');
    assert.is(await d.fx.check(), 'PASS');
  } finally { d.done(); }
});

test('files: offsets, O_APPEND, shared offsets, cloexec, /dev/null, ghost file, dirty private mapping', async () => {
  const d = await dumpFixture('files');
  try {
    await commonChecks(d.fx, d.dir);
    const files = (await readImage(d.dir, 'files.img')).entries;
    const fdinfo = (await readImage(d.dir, 'fdinfo-2.img')).entries;
    const byName = (suffix: string) => files.find((f: any) => f.reg?.name.endsWith(suffix));
    assert.is(Number(byName('.data').reg.pos), 3);
    assert.match(byName('.log').reg.flags, /O_APPEND/);
    const shared = byName('.shared');
    assert.is(Number(shared.reg.pos), 5);
    assert.is(fdinfo.filter((e: any) => e.id === shared.id).length, 2, 'dup\'ed fds share one file id');
    assert.is(fdinfo.find((e: any) => e.id === byName('.cloexec').id).flags, 1, 'close-on-exec');
    assert.ok(files.some((f: any) => f.reg?.name === '/dev/null' && f.reg.mode === 0o20666));
    const remap = (await readImage(d.dir, 'remap-fpath.img')).entries[0];
    assert.is(remap.orig_id, byName('.gone').id);
    assert.is(remap.remap_type, 'GHOST');
    const ghost = (await readImage(d.dir, `ghost-file-${remap.remap_id}.img`)).entries[0];
    assert.is(Buffer.from(ghost.extra, 'base64').toString(), 'deleted-but-open');
    // private file mapping: the dirty page is stored, the clean one is not
    const mm = (await readImage(d.dir, `mm-${d.fx.pid}.img`)).entries[0];
    const mapId = byName('.map').id;
    const v = mm.vmas.find((x: any) => x.shmid === mapId);
    assert.ok(v, 'mapping refers to the file id');
    assert.match(v.status, /VMA_FILE_PRIVATE/);
    const pm = (await readImage(d.dir, `pagemap-${d.fx.pid}.img`)).entries.slice(1);
    const start = big(v.start);
    const covered = (va: bigint) => pm.some((e: any) => va >= big(e.vaddr) && va < big(e.vaddr) + BigInt(e.nr_pages) * 4096n);
    assert.ok(covered(start), 'dirty page stored');
    assert.not.ok(covered(start + 4096n), 'clean file page not stored');
    assert.is(await d.fx.check(), 'PASS');
  } finally { d.done(); }
});

test.run();
