// Images written by tscr's own dump re-encode byte-identical (decode -> encode,
// and through pretty JSON), like CRIU's. Linux + root only (it dumps a fixture).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, decodeToJSON, encodeFromJSON, encodeImage, imageKindOf } from '../lib/images.ts';
import { FIXTURES_BIN } from '../lib/paths.ts';

const canDump = process.platform === 'linux' && process.getuid?.() === 0 && existsSync(join(FIXTURES_BIN, 'tree'));

for (const name of ['tree', 'files']) {
  test(`tscr dump of ${name}: every image re-encodes byte-identical`, async () => {
    if (!canDump) { console.log('  (skipped: needs Linux, root and built fixtures)'); return; }
    const { startFixture, runTscr } = await import('./helpers/fixture.ts');
    const fx = await startFixture(name);
    const dir = mkdtempSync(join(tmpdir(), `tscr-codec-dump-${name}-`));
    try {
      const r = await runTscr(['dump', '-t', String(fx.pid), '-D', dir, '-R']);
      assert.is(r.code, 0, r.stderr);
      let n = 0;
      for (const f of readdirSync(dir).sort()) {
        const kind = imageKindOf(f);
        if (!kind || kind.layout === 'raw') continue;
        const bytes = readFileSync(join(dir, f));
        const img = decodeImage(bytes, { file: f });
        assert.ok(Buffer.from(encodeImage(img)).equals(bytes), `${f}: decode -> encode`);
        assert.ok(Buffer.from(encodeFromJSON(decodeToJSON(bytes, { pretty: true }))).equals(bytes), `${f}: via pretty JSON`);
        n++;
      }
      assert.ok(n >= 8, `only ${n} images in the dump`);
    } finally {
      fx.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
