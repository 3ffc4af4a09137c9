// Averaging identity embeddings.
//   meanEmbedding: several photos of one person -> normalize(mean of the normalised embeddings).
//   mixEmbeddings: a weighted mix of identities -> normalize(Σ w_i·e_i) (weights need not sum to 1;
//   negative weights are allowed but the total must be > 0). With two identities this is the
//   chordal counterpart of slerp.
import { normalize } from './vec.js';

export function meanEmbedding(embeddings: readonly ArrayLike<number>[]): Float32Array {
  return mixEmbeddings(embeddings.map((e) => [e, 1] as const));
}

export function mixEmbeddings(items: readonly (readonly [ArrayLike<number>, number])[]): Float32Array {
  if (items.length === 0) throw new Error('need at least one embedding to average');
  const dim = items[0][0].length;
  const acc = new Float64Array(dim);
  let total = 0;
  items.forEach(([e, w], idx) => {
    if (e.length !== dim) throw new Error(`embedding ${idx + 1} has length ${e.length}, expected ${dim}`);
    if (!Number.isFinite(w)) throw new Error(`mix weight ${idx + 1} must be a finite number, got ${w}`);
    const u = normalize(e, `embedding ${idx + 1}`);
    for (let i = 0; i < dim; i++) acc[i] += w * u[i];
    total += w;
  });
  if (!(total > 0)) throw new Error(`mix weights must sum to a positive number, got ${total}`);
  return normalize(acc, 'averaged embedding (the embeddings cancel out)');
}
