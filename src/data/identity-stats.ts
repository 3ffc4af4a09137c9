// Identity statistics of the training embeddings (docs/CONTRACTS.md §2): the prior that random
// identities are drawn from (mean + Cholesky factor of the covariance) and attribute directions
// (class-mean differences; UTKFace age as a regression slope per 10 years).
import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readShard } from './shards.js';

export interface IdentityStats {
  embedder: string;
  dim: number;
  count: number;
  mean: number[];
  cholesky: number[][];
  directions: Record<string, { vector: number[]; positives: number; negatives: number }>;
}

const MIN_CLASS = 20; // a direction from fewer examples per side is mostly noise

/** Lower-triangular L with L·Lᵀ = A (A symmetric positive definite), row-major. */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new Error(`cholesky: matrix not positive definite at ${i}`);
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}

export async function computeIdentityStats(dataDir: string): Promise<IdentityStats> {
  const shards = (await readdir(dataDir)).filter((f) => /^shard-\d+\.tar$/.test(f)).sort();
  let dim = 0, count = 0, embedder = '';
  let sum = new Float64Array(0), outer = new Float64Array(0);
  const classes = new Map<string, { pos: Float64Array; neg: Float64Array; np: number; nn: number }>();
  const ages: { e: Float32Array; age: number }[] = [];
  for (const shard of shards) {
    for await (const s of readShard(join(dataDir, shard))) {
      const e = s.embedding;
      if (count === 0) { dim = e.length; embedder = s.meta.embedder; sum = new Float64Array(dim); outer = new Float64Array(dim * dim); }
      if (s.meta.embedder !== embedder) throw new Error(`${shard}: sample ${s.key} has embedder ${s.meta.embedder}, others ${embedder}`);
      count++;
      for (let i = 0; i < dim; i++) { sum[i] += e[i]; for (let j = 0; j <= i; j++) outer[i * dim + j] += e[i] * e[j]; }
      const attrs = s.meta.attributes;
      const binary: Record<string, boolean> = {};
      if (s.meta.source === 'utkface') {
        binary.utk_male = attrs.gender === 'male';
        ages.push({ e, age: attrs.age as number });
      } else {
        for (const [k, v] of Object.entries(attrs)) if (typeof v === 'boolean') binary[k] = v;
      }
      for (const [k, v] of Object.entries(binary)) {
        const c = classes.get(k) ?? { pos: new Float64Array(dim), neg: new Float64Array(dim), np: 0, nn: 0 };
        classes.set(k, c);
        const acc = v ? c.pos : c.neg;
        for (let i = 0; i < dim; i++) acc[i] += e[i];
        if (v) c.np++; else c.nn++;
      }
    }
  }
  if (count < 2) throw new Error(`${dataDir}: need at least 2 samples for identity statistics, found ${count}`);
  const mean = Array.from(sum, (x) => x / count);
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j <= i; j++) {
    const c = (outer[i * dim + j] - count * mean[i] * mean[j]) / (count - 1) + (i === j ? 1e-6 : 0);
    cov[i * dim + j] = cov[j * dim + i] = c;
  }
  const l = cholesky(cov, dim);
  const directions: IdentityStats['directions'] = {};
  for (const [k, c] of [...classes].sort(([a], [b]) => a.localeCompare(b))) {
    if (c.np < MIN_CLASS || c.nn < MIN_CLASS) continue;
    directions[k] = { vector: Array.from(c.pos, (p, i) => p / c.np - c.neg[i] / c.nn), positives: c.np, negatives: c.nn };
  }
  if (ages.length >= 2 * MIN_CLASS) {
    // least-squares slope of each embedding coordinate on age, scaled to 10 years
    const ma = ages.reduce((s, a) => s + a.age, 0) / ages.length;
    const me = new Float64Array(dim);
    for (const a of ages) for (let i = 0; i < dim; i++) me[i] += a.e[i] / ages.length;
    let va = 0;
    const cv = new Float64Array(dim);
    for (const a of ages) { const d = a.age - ma; va += d * d; for (let i = 0; i < dim; i++) cv[i] += d * (a.e[i] - me[i]); }
    directions.utk_age = { vector: Array.from(cv, (x) => (x / va) * 10), positives: ages.length, negatives: 0 };
  }
  const cholRows: number[][] = [];
  for (let i = 0; i < dim; i++) cholRows.push(Array.from(l.subarray(i * dim, (i + 1) * dim)));
  return { embedder, dim, count, mean, cholesky: cholRows, directions };
}

export async function writeIdentityStats(dataDir: string): Promise<IdentityStats> {
  const stats = await computeIdentityStats(dataDir);
  const tmp = join(dataDir, 'identity_stats.json.tmp');
  await writeFile(tmp, JSON.stringify(stats));
  await rename(tmp, join(dataDir, 'identity_stats.json'));
  return stats;
}
