import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_DIR, cleanup, tscr, copyShared } from './helpers/offline.ts';
import { encodeImage } from '../lib/images.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-policy-'));
test.after(() => cleanup(tmp));
const LOOP = join(SHARED_DIR, 'loop', 'images');
const TCP = join(SHARED_DIR, 'tcp', 'images');

async function hostFor(dir: string) {
  const r = await tscr('validate', '--describe-host', '--for', dir);
  assert.is(r.rc, 0, r.err);
  return JSON.parse(r.out);
}
/** A host where the checkpoint fits: its pids and ports free, its files present with the right sizes. */
function fitting(h: any) {
  h.pids_in_use = [1, 2, 3];
  h.ports_in_use = { tcp: [22], udp: [] };
  h.cpu.xfeatures = '0xffff';
  for (const k of Object.keys(h.files)) h.files[k] = { size: 1, mode: 0o100755 };
  return h;
}
async function check(dir: string, h: any) {
  const p = join(tmp, `host-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(h));
  const r = await tscr('validate', dir, '--policy', p, '--json');
  const j = JSON.parse(r.out);
  return { rc: r.rc, j, codes: j.findings.map((f: any) => f.code) as string[] };
}

test('describe-host reads this Linux host without the shim', async () => {
  const h = await hostFor(LOOP);
  assert.is(h.tscr_host_version, 1);
  assert.is(h.arch, 'x86_64');
  assert.match(h.cpu.xfeatures, /^0x[0-9a-f]+$/);
  assert.ok(h.pids_in_use.includes(process.pid));
  assert.ok(Object.keys(h.files).includes('/tmp/tscr-fixtures/loop'));
});

test('a host that fits: clean', async () => {
  const h = fitting(await hostFor(LOOP));
  // sizes as the checkpoint records them
  const files = JSON.parse((await tscr('validate', LOOP, '--json')).out);
  assert.ok(files.clean);
  const exe = '/tmp/tscr-fixtures/loop';
  const ck = await check(LOOP, h);
  // only the exe has a recorded size; give it the right one and check again
  const size = Number(/is 1 bytes on the host but (\d+)/.exec(ck.j.findings.find((f: any) => f.code === 'policy.file-size')?.message ?? '')?.[1]);
  assert.ok(size > 0, JSON.stringify(ck.j.findings));
  h.files[exe] = { size, mode: 0o100755 };
  const ok = await check(LOOP, h);
  assert.is(ok.rc, 0, JSON.stringify(ok.j.findings));
});

test('each unsafe condition is a precise finding', async () => {
  const base = fitting(await hostFor(LOOP));
  const cases: [string, (h: any) => void, string][] = [
    ['pid in use', (h) => { h.pids_in_use.push(20870); }, 'policy.pid-in-use'],
    ['pid above pid_max', (h) => { h.pid_max = 1000; }, 'policy.pid-max'],
    ['missing xsave features', (h) => { h.cpu.xfeatures = '0x1'; }, 'policy.xsave'],
    ['XSAVE area smaller than a thread\'s saved state', (h) => { h.cpu.xsave_size = 512; }, 'policy.xsave-size'],
    ['other architecture', (h) => { h.arch = 'aarch64'; }, 'policy.arch'],
    ['file missing', (h) => { h.files['/tmp/tscr-fixtures/loop'] = null; }, 'policy.file-missing'],
    ['no clone3 set_tid', (h) => { h.features.clone3_set_tid = false; }, 'policy.feature'],
  ];
  for (const [what, edit, code] of cases) {
    const h = structuredClone(base);
    edit(h);
    const r = await check(LOOP, h);
    assert.is(r.rc, 1, what);
    const f = r.j.findings.find((x: any) => x.code === code);
    assert.ok(f, `${what}: expected ${code}, got ${r.codes.join(', ')}`);
    assert.is(f.severity, 'error');
  }
});

test('ports in use and TCP repair, on the tcp checkpoint', async () => {
  const h = fitting(await hostFor(TCP));
  const listen = 48957; // the fixture's listening port
  h.ports_in_use.tcp.push(listen);
  h.features.tcp_repair = false;
  const r = await check(TCP, h);
  const port = r.j.findings.find((f: any) => f.code === 'policy.port-in-use');
  assert.ok(port, r.codes.join(', '));
  assert.match(port.message, /TCP port 48957/);
  assert.is(port.file, 'files.img');
  assert.ok(port.offset > 0);
  assert.ok(r.codes.includes('policy.feature'));
});

test('XSAVE sizes: the host description against the thread state and cpuinfo.img (as `criu cpuinfo dump` writes it)', async () => {
  const { root, images } = copyShared('loop', tmp);
  const cpu = (size: number, max: number) => encodeImage({ magic: 'CPUINFO', entries: [{ x86_entry: [{
    vendor_id: 'INTEL', cpu_family: 6, model: 143, stepping: 8, capability_ver: 2, capability: [0xbfebfbff, 0x7ffefbff],
    model_id: 'test cpu', xfeatures_mask: 0x2e7, xsave_size: size, xsave_size_max: max }] }] });
  writeFileSync(join(images, 'cpuinfo.img'), cpu(2696, 2696));
  const exe = '/tmp/tscr-fixtures/loop';
  const base = fitting(await hostFor(images));
  const size = Number(/is 1 bytes on the host but (\d+)/.exec((await check(images, base)).j.findings.find((f: any) => f.code === 'policy.file-size')?.message ?? '')?.[1]);
  base.files[exe] = { size, mode: 0o100755 };
  base.cpu.xfeatures = '0x2e7';
  base.cpu.xsave_size = 2696;
  delete base.cpu.xsave_size_max;
  let r = await check(images, base);
  assert.is(r.rc, 0, JSON.stringify(r.j.findings)); // same size: fine (no max in the description: not compared)
  base.cpu.xsave_size = 11008; // an AMX host
  r = await check(images, base);
  assert.is(r.rc, 1);
  const f = r.j.findings.find((x: any) => x.code === 'policy.xsave-size');
  assert.ok(f, r.codes.join(', '));
  assert.is(f.file, 'cpuinfo.img');
  assert.match(f.message, /was 2696 bytes, this host's is 11008/);
  base.cpu.xsave_size = 2696;
  base.cpu.xsave_size_max = 2704;
  r = await check(images, base);
  assert.match(r.j.findings.find((x: any) => x.code === 'policy.xsave-size')?.message ?? '', /largest XSAVE area was 2696 bytes, this host's is 2704/);
  base.cpu.xfeatures = '0x7';
  delete base.cpu.xsave_size_max;
  r = await check(images, base);
  assert.ok(r.j.findings.some((x: any) => x.code === 'policy.xsave' && x.file === 'cpuinfo.img'), r.codes.join(', '));
  // a description that gives a size must give a number
  base.cpu.xsave_size = 'big';
  const p = join(tmp, 'badsize.json');
  writeFileSync(p, JSON.stringify(base));
  const bad = await tscr('validate', images, '--policy', p);
  assert.is(bad.rc, 1);
  assert.match(bad.err, /cpu.xsave_size must be a positive integer/);
  cleanup(root);
});

test('describe-host: xsave_size is the standard-format size of the enabled user features (CPUID 0xd EBX)', async () => {
  const h = await hostFor(LOOP);
  if (!h.cpu.flags.includes('xsave')) return;
  assert.ok(h.cpu.xsave_size >= 576, String(h.cpu.xsave_size));
  if (BigInt(h.cpu.xfeatures) & 4n) assert.ok(h.cpu.xsave_size >= 832); // AVX
});

test('a bad host description is a clear error', async () => {
  const p = join(tmp, 'bad.json');
  writeFileSync(p, '{"hello": 1}');
  const r = await tscr('validate', LOOP, '--policy', p);
  assert.is(r.rc, 1);
  assert.match(r.err, /not a tscr host description/);
  assert.match(r.err, /hint: make it with/);
});

test.run();
