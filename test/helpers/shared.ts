// Where the reference CRIU images are: $TSCR_SHARED, else ../shared/criu-images
// beside the checkout (as CI lays it out), else this workplace's /work/shared.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../lib/paths.ts';

export const SHARED_IMAGES: string = [
  process.env.TSCR_SHARED,
  join(ROOT, '..', 'shared', 'criu-images'),
  '/work/shared/criu-images',
].find((p): p is string => !!p && existsSync(p)) ?? join(ROOT, '..', 'shared', 'criu-images');
