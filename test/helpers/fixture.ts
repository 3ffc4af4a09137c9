// The tiny exported bundle and its torch reference values (written by the trainer's make-fixture).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TINY_BUNDLE = fileURLToPath(new URL('../fixtures/tiny-bundle', import.meta.url));
const REF_PATH = fileURLToPath(new URL('../fixtures/tiny-bundle-reference.json', import.meta.url));

let cached: any;
export function reference(): any {
  cached ??= JSON.parse(readFileSync(REF_PATH, 'utf8'));
  return cached;
}

/** max |got − ref| / max(1, |ref|) over all elements (the fixture's tolerance convention). */
export function maxRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} vs reference ${ref.length}`);
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]) / Math.max(1, Math.abs(ref[i]));
    if (!(e <= m)) m = Number.isNaN(e) ? Infinity : e;
  }
  return m;
}
