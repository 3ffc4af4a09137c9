// Model bundles in Node: a BundleReader over a folder (node:fs), loadBundle(dir) and file hashing.
// The loading itself (validation, hashes, tokenizer, schedule) is runtime-neutral: bundle-load.ts.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, normalize as normPath, resolve } from 'node:path';
import { BundleError, loadBundleFrom, type Bundle, type BundleReader, type LoadBundleOptions } from './bundle-load.js';

export * from './bundle-load.js';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((res, rej) => {
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => res())
      .on('error', rej);
  });
  return h.digest('hex');
}

/** Reads a bundle folder; locations are absolute paths (onnxruntime-node opens them itself). */
export function folderBundleReader(dir: string): BundleReader {
  const root = resolve(dir);
  return {
    location: root,
    async readText(rel) {
      const p = join(root, normPath(rel));
      return existsSync(p) ? readFile(p, 'utf8') : undefined;
    },
    async locate(rel) {
      const p = join(root, normPath(rel));
      return existsSync(p) ? p : undefined;
    },
    sha256: sha256File,
  };
}

export async function loadBundle(dir: string, opts: LoadBundleOptions = {}): Promise<Bundle> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new BundleError(`model bundle folder not found: ${dir}`);
  return loadBundleFrom(folderBundleReader(root), opts);
}
