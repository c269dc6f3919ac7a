// Read a dump's image for tests: the binary image through the codec when it
// is there, else the crit-JSON fallback (NAME.img.json) the dump writes while
// the codec's encoder is missing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export async function readImage(dir: string, file: string): Promise<{ magic: string; entries: any[] }> {
  const j = join(dir, file + '.json');
  if (existsSync(j)) return JSON.parse(readFileSync(j, 'utf8'));
  const p = join(dir, file);
  if (!existsSync(p)) throw new Error(`image ${file} is missing in ${dir}`);
  const m: any = await import('../../lib/images.ts');
  const dec = m.decodeImage ?? m.decode ?? m.imageFromBytes;
  if (typeof dec !== 'function') throw new Error('no image decoder in lib/images.ts');
  return dec(readFileSync(p));
}

export const big = (v: any): bigint => (typeof v === 'string' ? BigInt(v) : BigInt(v));
