// `tscr x DIR ps|fds|mems` prints what crit x prints (compared with Debian's crit when it is
// installed; its 3.17 schema is enough for these three). rss is checked for shape only:
// crit 3.17 reads 4.2 pagemaps' nr_pages as 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runX } from '../cli/commands/x.ts';
import { SHARED_IMAGES } from './codec-shared.ts';

const hasCrit = spawnSync('crit', ['--help'], { stdio: 'ignore' }).status === 0;

function ours(dir: string, what: string): string {
  let out = '';
  runX({ dir, what }, { out: (s: string) => { out += s; }, json: () => {}, jsonMode: false } as any);
  return out;
}

for (const set of ['tree', 'sockets', 'files', 'threads']) {
  test(`x ${set}: ps, fds, mems${hasCrit ? ' (same as crit)' : ''}; rss`, () => {
    const dir = join(SHARED_IMAGES, set, 'images');
    for (const what of ['ps', 'fds', 'mems']) {
      const o = ours(dir, what);
      assert.ok(o.length > 20, `${what} printed something`);
      if (hasCrit) assert.is(o, spawnSync('crit', ['x', dir, what], { encoding: 'utf8' }).stdout, `${set} ${what}`);
    }
    assert.match(ours(dir, 'rss'), /^\d+\n\t[0-9a-f]+ \/ \d+/);
  });
}

test.run();
