// Read a dump's image for tests through the codec (lib/images.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../../lib/images.ts';

export async function readImage(dir: string, file: string): Promise<{ magic: string; entries: any[] }> {
  const p = join(dir, file);
  if (!existsSync(p)) throw new Error(`image ${file} is missing in ${dir}`);
  return decodeImage(readFileSync(p), { file: p });
}

export const big = (v: any): bigint => (typeof v === 'string' ? BigInt(v) : BigInt(v));
