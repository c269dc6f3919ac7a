import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_DIR, cleanup, tscr, copyShared, editImage } from './helpers/offline.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tscr-report-'));
test.after(() => cleanup(tmp));

function chromium(): string | null {
  for (const c of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

test('report is one self-contained HTML file', async () => {
  const out = join(tmp, 'tree.html');
  const r = await tscr('report', join(SHARED_DIR, 'tree', 'images'), '-o', out);
  assert.is(r.rc, 0, r.err);
  const html = readFileSync(out, 'utf8');
  assert.not.match(html, /<script|<link|src=|@import|url\(/i); // no external assets (and no scripts at all)
  assert.match(html, /id="tree"/);
  assert.is((html.match(/<svg class="memmap"/g) ?? []).length, 2);
});

test('hostile names cannot inject markup', async () => {
  const c = copyShared('loop', tmp);
  const core = readdirSync(c.images).find((f) => /^core-\d+\.img$/.test(f))!.replace('.img', '');
  editImage(c.root, core, (img) => { img.entries[0].tc.comm = '<script>x</script>'; });
  editImage(c.root, 'files', (img) => { img.entries[0].reg.name = '/tmp/"><img src=x onerror=alert(1)>'; });
  const out = join(tmp, 'hostile.html');
  assert.is((await tscr('report', c.images, '-o', out)).rc, 0);
  const html = readFileSync(out, 'utf8');
  assert.not.match(html, /<script|<img|onerror=alert\(1\)>/);
  assert.match(html, /&lt;script&gt;x&lt;\/script&gt;/);
});

test('hundreds of alike small VMAs fold into one row', async () => {
  const c = copyShared('loop', tmp);
  const mm = readdirSync(c.images).find((f) => /^mm-\d+\.img$/.test(f))!.replace('.img', '');
  editImage(c.root, mm, (img) => {
    const vmas = img.entries[0].vmas;
    const tmpl = vmas.find((v: any) => v.status === 'VMA_AREA_REGULAR | VMA_ANON_PRIVATE');
    const extra = Array.from({ length: 400 }, (_, i) => ({ ...tmpl, start: '0x' + (0x100000000 + i * 0x2000).toString(16), end: '0x' + (0x100001000 + i * 0x2000).toString(16) }));
    const at = vmas.findIndex((v: any) => BigInt(v.start) > 0x100000000n);
    vmas.splice(at, 0, ...extra);
  });
  const out = join(tmp, 'folded.html');
  assert.is((await tscr('validate', c.images)).rc, 0);
  assert.is((await tscr('report', c.images, '-o', out)).rc, 0);
  const html = readFileSync(out, 'utf8');
  assert.match(html, /class="vma folded" data-kind="anon" data-start="0x100000000" data-count="400"/);
  assert.ok(html.length < 200_000);
});

test('headless Chromium renders the tree and the memory map', async () => {
  const bin = chromium();
  if (!bin) {
    if (process.env.TSCR_SKIP_BROWSER) return;
    assert.unreachable('chromium is not installed (apt-get install chromium; .ci/run installs it)');
  }
  const out = join(tmp, 'mem.html');
  assert.is((await tscr('report', join(SHARED_DIR, 'mem', 'images'), '-o', out)).rc, 0);
  const prof = join(tmp, 'profile');
  const dom = spawnSync(bin!, [...FLAGS, `--user-data-dir=${prof}`, '--dump-dom', `file://${out}`], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  assert.is(dom.status, 0, dom.stderr);
  const d = dom.stdout;
  assert.match(d, /<ul class="tree" id="tree"><li><a href="#proc-21077" class="proc" data-pid="21077"><b>21077<\/b> mem<\/a>/);
  assert.match(d, /<svg class="memmap" data-pid="21077"/);
  // the 8 MiB mapping with every other page dumped is drawn with shaded present pages
  const vmas = d.match(/<g class="vma" data-kind="anon"[^]*?<\/g>/g) ?? [];
  assert.ok(vmas.some((g) => (g.match(/class="present"/g) ?? []).length >= 1 && /1024 of 2048 pages dumped/.test(g)));
  const png = join(tmp, 'mem.png');
  const shot = spawnSync(bin!, [...FLAGS, `--user-data-dir=${prof}`, '--window-size=1100,1200', `--screenshot=${png}`, `file://${out}`], { encoding: 'utf8', timeout: 60_000 });
  assert.is(shot.status, 0, shot.stderr);
  assert.ok(existsSync(png) && statSync(png).size > 10_000, 'a non-trivial screenshot');
});

test.run();
