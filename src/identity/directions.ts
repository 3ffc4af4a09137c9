// Attribute editing in identity space: e' = normalize(e + Σ a_i·v_i) (docs/CONTRACTS.md §2).
import { normalize } from './vec.js';

export interface AttributeDirection {
  vector: ArrayLike<number>;
  positives?: number;
  negatives?: number;
}

export function applyAttributes(
  embedding: ArrayLike<number>,
  amounts: Record<string, number>,
  directions: Record<string, AttributeDirection>,
): Float32Array {
  const names = Object.keys(amounts);
  const available = Object.keys(directions).sort();
  const out = new Float64Array(embedding.length);
  for (let i = 0; i < embedding.length; i++) out[i] = embedding[i];
  for (const name of names) {
    const dir = directions[name];
    if (!dir || !Object.prototype.hasOwnProperty.call(directions, name)) {
      throw new Error(
        `unknown attribute "${name}"; this bundle has: ${available.length ? available.join(', ') : '(no attribute directions)'}`,
      );
    }
    const a = amounts[name];
    if (!Number.isFinite(a)) throw new Error(`attribute ${name}: amount must be a finite number, got ${a}`);
    if (dir.vector.length !== embedding.length) {
      throw new Error(`attribute ${name}: direction has ${dir.vector.length} values, the embedding has ${embedding.length}`);
    }
    for (let i = 0; i < out.length; i++) out[i] += a * dir.vector[i];
  }
  return normalize(out, 'edited embedding');
}
