// Helpers for codec tests: where the shared CRIU reference images are.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/paths.ts';

export const SHARED_IMAGES = [process.env.TSCR_SHARED && join(process.env.TSCR_SHARED, 'criu-images'),
  join(ROOT, '..', 'shared', 'criu-images'), join(ROOT, '..', '..', 'shared', 'criu-images'), '/work/shared/criu-images']
  .find((p): p is string => Boolean(p) && existsSync(p!)) ?? '';

/** Every decodable reference image: {set, name, path, json (crit --pretty path)}. */
export function sharedImages(): { set: string; name: string; path: string; json: string }[] {
  if (!SHARED_IMAGES) return [];
  const out = [];
  for (const set of readdirSync(SHARED_IMAGES).sort()) {
    const dir = join(SHARED_IMAGES, set, 'images');
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('pages-')) continue;
      out.push({ set, name, path: join(dir, name), json: join(SHARED_IMAGES, set, 'crit', name.replace(/\.img$/, '') + '.json') });
    }
  }
  return out;
}
