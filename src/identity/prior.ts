// Random identity from the bundle's identity prior (docs/CONTRACTS.md §2):
//   e = normalize(mean + L·z),  z ~ N(0, I) from the seeded generator (src/diffusion/rng.ts:
//   the first `dim` normals of Rng(seed)), L lower-triangular with L·Lᵀ = covariance.
import { Rng } from '../diffusion/rng.js';
import { normalize } from './vec.js';

export interface IdentityPrior {
  mean: ArrayLike<number>;
  /** Lower-triangular Cholesky factor, row-major rows. */
  cholesky: readonly ArrayLike<number>[];
}

export function sampleIdentity(prior: IdentityPrior, seed: number): Float32Array {
  const d = prior.mean.length;
  if (prior.cholesky.length !== d) throw new Error(`identity prior: cholesky has ${prior.cholesky.length} rows, mean has ${d} values`);
  const rng = new Rng(seed);
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) z[i] = rng.normal();
  const e = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const row = prior.cholesky[i];
    if (row.length !== d) throw new Error(`identity prior: cholesky row ${i} has ${row.length} values, expected ${d}`);
    let s = prior.mean[i];
    for (let j = 0; j <= i; j++) s += row[j] * z[j]; // lower-triangular: entries above the diagonal are ignored
    e[i] = s;
  }
  return normalize(e, 'random identity');
}
