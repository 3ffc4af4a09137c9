// Loading a model bundle (docs/CONTRACTS.md §4) through a BundleReader: validate manifest.json,
// verify the sha256 of every file it names, load the tokenizer, build the noise schedule.
// Runtime-neutral (no node: imports): src/model/bundle.ts reads folders with node:fs, the browser
// entry (src/web/) fetches the files from the page's origin.
import { Tokenizer, type TokenizerSpec } from '../text/tokenizer.js';
import { NoiseSchedule } from '../diffusion/schedule.js';
import { parseManifest, type Manifest } from './manifest.js';

export type BundleFileKey = 'text_encoder' | 'face_projector' | 'unet' | 'tokenizer';
export const BUNDLE_FILES: readonly BundleFileKey[] = ['text_encoder', 'face_projector', 'unet', 'tokenizer'];

/** How one runtime reaches the files of a bundle (paths are relative to the bundle root). */
export interface BundleReader {
  /** Where the bundle is, for messages and metadata (a folder path, a URL). */
  readonly location: string;
  /** The file's text, or undefined when it does not exist. */
  readText(rel: string): Promise<string | undefined>;
  /** Where the runtime finds `rel` (an absolute path, a URL), or undefined when it does not exist. */
  locate(rel: string): Promise<string | undefined>;
  /** sha256 (hex) of the file at a location `locate` gave. */
  sha256(location: string): Promise<string>;
}

export interface Bundle {
  dir: string;
  manifest: Manifest;
  tokenizer: Tokenizer;
  schedule: NoiseSchedule;
  /** Where each of the bundle's files is (absolute paths in Node, URLs in the browser). */
  paths: Record<BundleFileKey, string>;
  /** sha256 of manifest.json itself (identifies the bundle in metadata). */
  manifestSha256: string;
}

export interface LoadBundleOptions {
  /** Verify the sha256 of every file (default true). */
  verify?: boolean;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/** sha256 (hex) of bytes or UTF-8 text, with Web Crypto (global in browsers and Node 20). */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A relative path that stays inside the bundle ("a/b.onnx"; never absolute, never ".."). */
function insideBundle(rel: string): boolean {
  if (rel.startsWith('/') || rel.startsWith('\\') || /^[a-zA-Z]:/.test(rel)) return false;
  const parts: string[] = [];
  for (const p of rel.split(/[\\/]+/)) {
    if (p === '..') {
      if (parts.length === 0) return false;
      parts.pop();
    } else if (p !== '.' && p !== '') parts.push(p);
  }
  return parts.length > 0;
}

export async function loadBundleFrom(reader: BundleReader, opts: LoadBundleOptions = {}): Promise<Bundle> {
  const dir = reader.location;
  const manifestText = await reader.readText('manifest.json');
  if (manifestText === undefined) throw new BundleError(`not a model bundle: ${dir} has no manifest.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(manifestText);
  } catch (err) {
    throw new BundleError(`bundle ${dir}: manifest.json is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = parseManifest(raw, `${dir}/manifest.json`);
  const paths = {} as Record<BundleFileKey, string>;
  for (const key of BUNDLE_FILES) {
    const rel = manifest.files[key].path;
    if (!insideBundle(rel)) throw new BundleError(`bundle ${dir}: files.${key}.path must be inside the bundle, got ${rel}`);
    const at = await reader.locate(rel);
    if (at === undefined) throw new BundleError(`bundle ${dir}: files.${key}.path names ${rel}, which does not exist`);
    paths[key] = at;
  }
  if (opts.verify !== false) {
    await Promise.all(
      BUNDLE_FILES.map(async (key) => {
        const want = manifest.files[key].sha256.toLowerCase();
        const got = await reader.sha256(paths[key]);
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
    const text = await reader.readText(manifest.files.tokenizer.path);
    if (text === undefined) throw new Error('no such file');
    spec = JSON.parse(text) as TokenizerSpec;
  } catch (err) {
    throw new BundleError(`bundle ${dir}: cannot read tokenizer ${manifest.files.tokenizer.path}: ${(err as Error).message}`);
  }
  const tokenizer = new Tokenizer(spec);
  const schedule = new NoiseSchedule(manifest.schedule.betas);
  const manifestSha256 = await sha256Hex(manifestText);
  return { dir, manifest, tokenizer, schedule, paths, manifestSha256 };
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
