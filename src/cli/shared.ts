// Helpers shared by CLI commands: default bundle, number parsing, embedding files.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const DEFAULT_BUNDLE = 'models/face0-64';
export const FALLBACK_BUNDLE = 'test/fixtures/tiny-bundle';

/** --bundle, else models/face0-64 (cwd, then package), else the tiny test bundle with a notice. */
export function resolveBundle(given: string | undefined, notice: (msg: string) => void): string {
  if (given) return given;
  for (const base of [process.cwd(), PACKAGE_ROOT]) {
    const p = join(base, DEFAULT_BUNDLE);
    if (existsSync(join(p, 'manifest.json'))) return p;
  }
  for (const base of [process.cwd(), PACKAGE_ROOT]) {
    const p = join(base, FALLBACK_BUNDLE);
    if (existsSync(join(p, 'manifest.json'))) {
      notice(`note: no ${DEFAULT_BUNDLE} bundle found; using the tiny test bundle ${p} (it makes noise-like images; pass --bundle DIR)`);
      return p;
    }
  }
  throw new Error(`no model bundle: pass --bundle DIR (looked for ${DEFAULT_BUNDLE} and ${FALLBACK_BUNDLE})`);
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** "Young=0.8,Male=-1" (repeatable) -> { Young: 0.8, Male: -1 } */
export function parseAttributes(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of items.flatMap((s) => s.split(','))) {
    if (!part.trim()) continue;
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(part);
    const n = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(n)) throw new Error(`--attr expects NAME=AMOUNT (e.g. Young=0.8), got "${part}"`);
    out[m[1]] = n;
  }
  return out;
}

/** "a.jpg:0.7,b.jpg:0.3" -> [["a.jpg", 0.7], ["b.jpg", 0.3]] (the weight follows the last ':'). */
export function parseMix(spec: string): [string, number][] {
  return spec.split(',').filter((s) => s.trim()).map((part) => {
    const i = part.lastIndexOf(':');
    const w = i > 0 ? Number(part.slice(i + 1)) : NaN;
    if (i <= 0 || !Number.isFinite(w)) throw new Error(`--mix expects PHOTO:WEIGHT[,PHOTO:WEIGHT…] (e.g. a.jpg:0.7,b.jpg:0.3), got "${part}"`);
    return [part.slice(0, i), w];
  });
}

/** Read an embedding from .npy (float32/float64, 1-D) or .json (array of numbers). */
export function readEmbeddingFile(path: string): Float32Array {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read embedding ${path}: ${(err as Error).message}`);
  }
  if (path.endsWith('.json')) {
    const a = JSON.parse(buf.toString('utf8'));
    if (!Array.isArray(a) || !a.every((x) => typeof x === 'number')) throw new Error(`${path}: expected a JSON array of numbers`);
    return Float32Array.from(a);
  }
  if (buf.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error(`${path}: not a .npy or .json embedding file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.subarray(hstart, hstart + hlen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number) ?? [];
  if (/'fortran_order':\s*True/.test(header) || shape.length !== 1) throw new Error(`${path}: expected a 1-D array, got shape (${shape.join(', ')})`);
  const data = buf.subarray(hstart + hlen);
  const n = shape[0];
  if (descr === '<f4') return Float32Array.from({ length: n }, (_, i) => data.readFloatLE(i * 4));
  if (descr === '<f8') return Float32Array.from({ length: n }, (_, i) => data.readDoubleLE(i * 8));
  throw new Error(`${path}: unsupported dtype ${descr} (use float32)`);
}
