// Helpers for the offline-toolkit tests: copies of the shared reference
// checkpoints in a temp dir, and ways to plant inconsistencies in them.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, chmodSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as images from '../../lib/images.ts';
import { main } from '../../cli/main.ts';

export const SHARED = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', '..', '..', 'shared', 'criu-images');
export const SHARED_DIR = existsSync(SHARED) ? SHARED : '/work/shared/criu-images';
export const NAMES = ['loop', 'mem', 'tree', 'files', 'sockets', 'threads', 'tcp'];

/** A writable copy of shared checkpoint NAME: returns { root, images } (images = root/images). */
export function copyShared(name: string, parent?: string): { root: string; images: string } {
  const root = mkdtempSync(join(parent ?? tmpdir(), `tscr-off-${name}-`));
  cpSync(join(SHARED_DIR, name, 'images'), join(root, 'images'), { recursive: true });
  if (existsSync(join(SHARED_DIR, name, 'crit'))) cpSync(join(SHARED_DIR, name, 'crit'), join(root, 'crit'), { recursive: true });
  for (const d of ['images', 'crit']) {
    const p = join(root, d);
    if (!existsSync(p)) continue;
    chmodSync(p, 0o755);
    for (const f of readdirSync(p)) chmodSync(join(p, f), 0o644);
  }
  return { root, images: join(root, 'images') };
}

export function cleanup(...dirs: string[]) {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

const enc = (images as Record<string, unknown>)[['encode', 'Image'].join('')] as ((img: any) => Uint8Array) | undefined;
const dec = (images as Record<string, unknown>)[['decode', 'Image'].join('')] as ((b: Uint8Array) => any) | undefined;

/**
 * Edit image NAME.img of a copied checkpoint as crit JSON. With the codec in
 * this build it decodes, edits and re-encodes the .img; without it, it edits
 * the crit JSON decoding that the offline loader falls back to.
 */
export function editImage(root: string, name: string, fn: (img: any) => void) {
  const img = join(root, 'images', name + '.img');
  if (typeof enc === 'function' && typeof dec === 'function') {
    const o = dec(readFileSync(img));
    fn(o);
    writeFileSync(img, enc(o));
  }
  const js = join(root, 'crit', name + '.json');
  if (existsSync(js)) {
    const o = JSON.parse(readFileSync(js, 'utf8'));
    fn(o);
    writeFileSync(js, JSON.stringify(o));
  }
}

export function fileSize(p: string) { return statSync(p).size; }

/** Run the CLI in-process; returns rc, stdout, stderr. */
export async function tscr(...argv: string[]): Promise<{ rc: number; out: string; err: string }> {
  let out = '', err = '';
  const rc = await main(argv, { stdout: (s) => { out += s; }, stderr: (s) => { err += s; } });
  return { rc, out, err };
}
