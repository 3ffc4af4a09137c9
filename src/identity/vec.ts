// Small vector helpers for identity embeddings (float64 accumulation, Float32Array results).

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`vector lengths differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** L2-normalise into a new Float32Array; a (near-)zero vector is an error. */
export function normalize(a: ArrayLike<number>, what = 'vector'): Float32Array {
  const n = norm(a);
  if (!(n > 1e-12) || !Number.isFinite(n)) throw new Error(`cannot normalise ${what}: its length is ${n}`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] / n;
  return out;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return dot(a, b) / (norm(a) * norm(b));
}
