// The checkpoint as the restore engine sees it: every image it needs, loaded
// once, in crit's JSON shape (lib/images.ts contract), plus typed accessors.
// Images are read through the image API (lib/images.ts, the Wasm codec). A
// directory that holds only crit JSON decodings (NAME.json) is read too, which
// lets tests edit checkpoints as text.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TscrError } from '../errors.ts';
import { readImage, type Image } from '../images.ts';

/** Optional binary decoder (the codec's image API), wired in by setImageDecoder(). */
type Decoder = (path: string) => Image;
let decoder: Decoder | null = (path) => readImage(path);
export function setImageDecoder(d: Decoder | null): void { decoder = d; }

export function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (v >= 18446744073709549568) return 0xffffffffffffffffn; // JSON number that lost its low bits: RLIM_INFINITY
    return BigInt(Math.trunc(v));
  }
  if (typeof v === 'string' && v.length) return BigInt(v);
  return 0n;
}
export function num(v: unknown): number { return Number(big(v)); }
export function flagSet(v: unknown): Set<string> {
  if (typeof v !== 'string') return new Set();
  return new Set(v.split('|').map((s) => s.trim()).filter(Boolean));
}

export class Checkpoint {
  readonly dir: string;
  private cache = new Map<string, Image | null>();
  constructor(dir: string) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new TscrError('E_NOT_FOUND', `image directory ${dir} does not exist`, { file: dir, hint: 'pass the directory `tscr dump -D` wrote' });
    }
    this.dir = dir;
  }

  /** An image by name without .img (e.g. 'pstree', 'core-42'); null if absent. */
  tryImage(name: string): Image | null {
    if (this.cache.has(name)) return this.cache.get(name)!;
    let img: Image | null = null;
    const bin = join(this.dir, `${name}.img`);
    const jsonHere = join(this.dir, `${name}.json`);
    const jsonCrit = join(this.dir, '..', 'crit', `${name}.json`);
    if (decoder && existsSync(bin)) {
      img = decoder(bin);
    } else if (existsSync(jsonHere) || (!existsSync(bin) && existsSync(jsonCrit))) {
      const p = existsSync(jsonHere) ? jsonHere : jsonCrit;
      let parsed: any;
      try {
        parsed = JSON.parse(readFileSync(p, 'utf8'));
      } catch (e: any) {
        throw new TscrError('E_BAD_JSON', `image ${p} is not valid JSON: ${e.message}`, { file: p, hint: 'the checkpoint is damaged; dump again' });
      }
      if (!parsed || typeof parsed.magic !== 'string' || !Array.isArray(parsed.entries)) {
        throw new TscrError('E_BAD_JSON', `image ${p} does not have the {magic, entries} shape`, { file: p, hint: 'the checkpoint is damaged; dump again' });
      }
      img = parsed;
    } else if (existsSync(bin)) {
      throw new TscrError('E_UNSUPPORTED', `cannot decode ${bin}: this build has no image codec yet`, { file: bin, hint: 'update tscr (the codec lands on branch codec)' });
    }
    this.cache.set(name, img);
    return img;
  }

  image(name: string, magic?: string): Image {
    const img = this.tryImage(name);
    if (!img) {
      throw new TscrError('E_NOT_FOUND', `image ${name}.img is missing from ${this.dir}`, { file: join(this.dir, `${name}.img`), hint: 'the checkpoint is incomplete; dump again' });
    }
    if (magic && img.magic !== magic) {
      throw new TscrError('E_BAD_MAGIC', `image ${name}.img has magic ${img.magic}, expected ${magic}`, { file: join(this.dir, `${name}.img`), kind: magic });
    }
    return img;
  }

  entry(name: string, magic?: string): any {
    const img = this.image(name, magic);
    if (!img.entries.length) {
      throw new TscrError('E_CORRUPT', `image ${name}.img has no entries`, { file: join(this.dir, `${name}.img`), kind: magic, hint: 'the checkpoint is damaged; dump again' });
    }
    return img.entries[0];
  }

  pagesPath(id: number): string { return join(this.dir, `pages-${id}.img`); }

  /** The files.img entry by id (cached index). */
  private filesById: Map<number, any> | null = null;
  file(id: number): any {
    if (!this.filesById) {
      this.filesById = new Map();
      for (const e of this.tryImage('files')?.entries ?? []) this.filesById.set(num(e.id), e);
    }
    const f = this.filesById.get(id);
    if (!f) throw new TscrError('E_INCONSISTENT', `file id ${id} is used but not described in files.img`, { file: join(this.dir, 'files.img'), kind: 'FILES' });
    return f;
  }
}
