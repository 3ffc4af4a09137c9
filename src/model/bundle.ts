// Load a model bundle folder (docs/CONTRACTS.md §4): read + validate manifest.json, verify the
// sha256 of every file it names, load the tokenizer, build the noise schedule.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize as normPath, resolve } from 'node:path';
import { Tokenizer, type TokenizerSpec } from '../text/tokenizer.js';
import { NoiseSchedule } from '../diffusion/schedule.js';
import { parseManifest, type Manifest } from './manifest.js';

export type BundleFileKey = 'text_encoder' | 'face_projector' | 'unet' | 'tokenizer';
export const BUNDLE_FILES: readonly BundleFileKey[] = ['text_encoder', 'face_projector', 'unet', 'tokenizer'];

export interface Bundle {
  dir: string;
  manifest: Manifest;
  tokenizer: Tokenizer;
  schedule: NoiseSchedule;
  /** Absolute paths of the bundle's files. */
  paths: Record<BundleFileKey, string>;
  /** sha256 of manifest.json itself (identifies the bundle in metadata). */
  manifestSha256: string;
}

export interface LoadBundleOptions {
  /** Verify the sha256 of every file (default true). */
  verify?: boolean;
}

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

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

export async function loadBundle(dir: string, opts: LoadBundleOptions = {}): Promise<Bundle> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new BundleError(`model bundle folder not found: ${dir}`);
  const manifestPath = join(root, 'manifest.json');
  if (!existsSync(manifestPath)) throw new BundleError(`not a model bundle: ${dir} has no manifest.json`);
  const manifestText = readFileSync(manifestPath, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(manifestText);
  } catch (err) {
    throw new BundleError(`bundle ${dir}: manifest.json is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = parseManifest(raw, manifestPath);
  const paths = {} as Record<BundleFileKey, string>;
  for (const key of BUNDLE_FILES) {
    const rel = manifest.files[key].path;
    const n = normPath(rel);
    if (isAbsolute(rel) || n.startsWith('..')) throw new BundleError(`bundle ${dir}: files.${key}.path must be inside the bundle, got ${rel}`);
    const p = join(root, n);
    if (!existsSync(p)) throw new BundleError(`bundle ${dir}: files.${key}.path names ${rel}, which does not exist`);
    paths[key] = p;
  }
  if (opts.verify !== false) {
    await Promise.all(
      BUNDLE_FILES.map(async (key) => {
        const want = manifest.files[key].sha256.toLowerCase();
        const got = await sha256File(paths[key]);
        if (got !== want) {
          throw new BundleError(
            `bundle ${dir}: ${manifest.files[key].path} is corrupt or was changed: sha256 ${got} does not match the manifest's ${want}`,
          );
        }
      }),
    );
  }
  let spec: TokenizerSpec;
  try {
    spec = JSON.parse(readFileSync(paths.tokenizer, 'utf8')) as TokenizerSpec;
  } catch (err) {
    throw new BundleError(`bundle ${dir}: cannot read tokenizer ${manifest.files.tokenizer.path}: ${(err as Error).message}`);
  }
  const tokenizer = new Tokenizer(spec);
  const schedule = new NoiseSchedule(manifest.schedule.betas);
  const manifestSha256 = createHash('sha256').update(manifestText).digest('hex');
  return { dir: root, manifest, tokenizer, schedule, paths, manifestSha256 };
}

/** Refuse embeddings made by another face network than the one the bundle was trained with. */
export function checkEmbedder(manifest: Manifest, embedderId: string, what = 'the face embedding'): void {
  if (embedderId !== manifest.face.embedder) {
    throw new BundleError(
      `${what} was made by "${embedderId}" but bundle "${manifest.name}" was trained on "${manifest.face.embedder}" embeddings; they are not interchangeable`,
    );
  }
}

export function checkEmbeddingDim(manifest: Manifest, e: ArrayLike<number>, what = 'embedding'): void {
  if (e.length !== manifest.face.embedding_dim) {
    throw new BundleError(`${what} has ${e.length} values, bundle "${manifest.name}" expects ${manifest.face.embedding_dim}`);
  }
  for (let i = 0; i < e.length; i++) {
    if (!Number.isFinite(e[i])) throw new BundleError(`${what} contains a non-finite value at index ${i}`);
  }
}
