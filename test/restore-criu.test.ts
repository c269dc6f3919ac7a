// tscr restores CRIU 4.2's reference checkpoints (../shared/criu-images) and
// every program checks itself (PASS) after SIGUSR1.
import { test } from 'uvu';
import { restoreSharedImage } from './helpers/restore.ts';

for (const name of ['loop', 'mem', 'tree', 'threads', 'files']) {
  test(`CRIU 4.2 image ${name}: restore -d, self-check PASS`, () => restoreSharedImage(name));
}

test.run();
