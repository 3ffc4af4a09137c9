// Identity statistics (src/data/identity-stats.ts, docs/CONTRACTS.md §2): Cholesky factor, mean
// and covariance of the training embeddings, attribute directions along known synthetic axes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cholesky, computeIdentityStats, writeIdentityStats, type IdentityStats } from '../../src/data/identity-stats.js';
import { shardName, writeShard, type Sample } from '../../src/data/shards.js';
import { mulberry32 } from '../../src/data/random.js';

const DIM = 128;
const EMBEDDER = 'face-api@1.7.15/faceRecognitionNet/align5-z1-y-0.15';
const SMILE_AXIS = 3, AGE_AXIS = 7, MALE_AXIS = 11, GLASSES_AXIS = 20;
const SMILE_SHIFT = 0.3, AGE_SLOPE = 0.01 /* per year */, MALE_SHIFT = 0.25;

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => dot(a, b) / (norm(a) * norm(b));
const axis = (k: number) => { const v = new Float64Array(DIM); v[k] = 1; return v; };

describe('cholesky', () => {
  test('L·Lᵀ reproduces a random SPD matrix; L is lower triangular with a positive diagonal', () => {
    const rand = mulberry32(5);
    for (const n of [1, 3, 17, 64]) {
      const b = Float64Array.from({ length: n * n }, () => rand() * 2 - 1);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let s = i === j ? 0.5 : 0;
        for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
        a[i * n + j] = s;
      }
      const l = cholesky(a, n);
      for (let i = 0; i < n; i++) {
        assert.ok(l[i * n + i] > 0, 'positive diagonal');
        for (let j = i + 1; j < n; j++) assert.equal(l[i * n + j], 0, `upper entry ${i},${j}`);
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += l[i * n + k] * l[j * n + k];
          assert.ok(Math.abs(s - a[i * n + j]) < 1e-9 * Math.max(1, Math.abs(a[i * n + j])), `n=${n} (${i},${j}): ${s} vs ${a[i * n + j]}`);
        }
      }
    }
    // a hand-computed 2x2: [[4, 2], [2, 5]] = [[2, 0], [1, 2]]·[[2, 1], [0, 2]]
    assert.deepEqual(Array.from(cholesky(Float64Array.from([4, 2, 2, 5]), 2)), [2, 0, 1, 2]);
  });

  test('throws on matrices that are not positive definite', () => {
    assert.throws(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2), /not positive definite/); // eigenvalues 3, −1
    assert.throws(() => cholesky(Float64Array.from([1, 1, 1, 1]), 2), /not positive definite/); // singular
    assert.throws(() => cholesky(Float64Array.from([-1]), 1), /not positive definite/);
    assert.throws(() => cholesky(Float64Array.from([Number.NaN]), 1), /not positive definite/);
  });
});

describe('computeIdentityStats', () => {
  let dir = '';
  let all: Float32Array[] = [];
  let stats: IdentityStats;
  const N_CELEBA = 100, N_UTK = 100;

  /**
   * 100 celeba-like samples (Smiling on half of them shifts axis 3 by +0.3; Eyeglasses on only 10;
   * Bald on none) and 100 utkface-like samples (age 10..89 shifts axis 7 by 0.01/year, male shifts
   * axis 11), on a common random base, in three shards.
   */
  function makeSamples(): Sample[] {
    const rand = mulberry32(2024);
    const base = Float64Array.from({ length: DIM }, () => gaussian(rand) * 0.05);
    const out: Sample[] = [];
    for (let i = 0; i < N_CELEBA + N_UTK; i++) {
      const e = new Float32Array(DIM);
      for (let d = 0; d < DIM; d++) e[d] = base[d] + gaussian(rand) * 0.03;
      let attributes: Record<string, unknown>;
      let source: string;
      if (i < N_CELEBA) {
        source = 'celeba';
        const smiling = i % 2 === 0, glasses = i % 10 === 0;
        if (smiling) e[SMILE_AXIS] += SMILE_SHIFT;
        if (glasses) e[GLASSES_AXIS] += 0.5;
        attributes = { Smiling: smiling, Eyeglasses: glasses, Bald: false, Male: i % 4 < 2 };
      } else {
        source = 'utkface';
        const age = 10 + ((i * 37) % 80), male = i % 2 === 1;
        e[AGE_AXIS] += AGE_SLOPE * age;
        if (male) e[MALE_AXIS] += MALE_SHIFT;
        attributes = { age, gender: male ? 'male' : 'female', race: 'white' };
      }
      out.push({
        key: `s${String(i).padStart(4, '0')}`, jpg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), caption: 'a photo of a person', embedding: e,
        meta: { source, file: `${i}.jpg`, identity: null, attributes, score: 0.99, box: [0, 0, 10, 10], landmarks5: [], faces: 1, size: 64, embedder: EMBEDDER },
      });
    }
    return out;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'face0-idstats-'));
    const samples = makeSamples();
    // interleave sources across shards
    const order = samples.map((s, i) => ({ s, r: (i * 7919) % samples.length })).sort((a, b) => a.r - b.r).map((x) => x.s);
    await writeShard(join(dir, shardName(0)), order.slice(0, 70));
    await writeShard(join(dir, shardName(1)), order.slice(70, 140));
    await writeShard(join(dir, shardName(2)), order.slice(140));
    writeFileSync(join(dir, 'shard-000003.tar.tmp'), 'half-written junk that must be ignored');
    writeFileSync(join(dir, 'notes.txt'), 'not a shard');
    all = samples.map((s) => s.embedding);
    stats = await computeIdentityStats(dir);
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  test('embedder, dim, count and mean', () => {
    assert.equal(stats.embedder, EMBEDDER);
    assert.equal(stats.dim, DIM);
    assert.equal(stats.count, N_CELEBA + N_UTK);
    assert.equal(stats.mean.length, DIM);
    for (let d = 0; d < DIM; d++) {
      const m = all.reduce((s, e) => s + e[d], 0) / all.length;
      assert.ok(Math.abs(stats.mean[d] - m) < 1e-9, `mean[${d}]`);
    }
  });

  test('L·Lᵀ ≈ the sample covariance (two-pass, n − 1) + 1e-6·I; L lower triangular', () => {
    const n = all.length;
    const mean = Array.from({ length: DIM }, (_, d) => all.reduce((s, e) => s + e[d], 0) / n);
    const L = stats.cholesky;
    assert.equal(L.length, DIM);
    let maxErr = 0, maxCov = 0;
    for (let i = 0; i < DIM; i++) {
      assert.equal(L[i].length, DIM);
      for (let j = i + 1; j < DIM; j++) assert.equal(L[i][j], 0);
      for (let j = 0; j <= i; j++) {
        let cov = 0;
        for (const e of all) cov += (e[i] - mean[i]) * (e[j] - mean[j]);
        cov = cov / (n - 1) + (i === j ? 1e-6 : 0);
        let llt = 0;
        for (let k = 0; k < DIM; k++) llt += L[i][k] * L[j][k];
        maxErr = Math.max(maxErr, Math.abs(llt - cov));
        maxCov = Math.max(maxCov, Math.abs(cov));
      }
    }
    assert.ok(maxErr < 1e-9, `max |L·Lᵀ − cov| = ${maxErr} (cov up to ${maxCov})`);
  });

  test('the Smiling direction points along its axis, with the class separation as length', () => {
    const d = stats.directions.Smiling;
    assert.ok(d, 'Smiling direction present');
    assert.equal(d.positives, 50);
    assert.equal(d.negatives, 50);
    assert.equal(d.vector.length, DIM);
    assert.ok(cos(d.vector, axis(SMILE_AXIS)) > 0.9, `cosine ${cos(d.vector, axis(SMILE_AXIS))}`);
    assert.ok(Math.abs(d.vector[SMILE_AXIS] - SMILE_SHIFT) < 0.03, `length along the axis ${d.vector[SMILE_AXIS]}`);
    // exactly mean(positives) − mean(negatives) of the celeba samples (not normalised)
    for (const k of [0, SMILE_AXIS, 100]) {
      let p = 0, q = 0;
      for (let i = 0; i < N_CELEBA; i++) if (i % 2 === 0) p += all[i][k] / 50; else q += all[i][k] / 50;
      assert.ok(Math.abs(d.vector[k] - (p - q)) < 1e-9, `component ${k}`);
    }
  });

  test('utk_age is the slope per 10 years along its axis; utk_male along its axis', () => {
    const age = stats.directions.utk_age;
    assert.ok(age, 'utk_age present');
    assert.equal(age.positives, N_UTK);
    assert.ok(cos(age.vector, axis(AGE_AXIS)) > 0.9, `cosine ${cos(age.vector, axis(AGE_AXIS))}`);
    assert.ok(Math.abs(age.vector[AGE_AXIS] - AGE_SLOPE * 10) < 0.015, `slope per 10 years ${age.vector[AGE_AXIS]}`);
    const male = stats.directions.utk_male;
    assert.ok(male, 'utk_male present');
    assert.equal(male.positives, 50);
    assert.equal(male.negatives, 50); // from utkface samples only
    assert.ok(cos(male.vector, axis(MALE_AXIS)) > 0.9, `cosine ${cos(male.vector, axis(MALE_AXIS))}`);
  });

  test('attributes with fewer than 20 examples in a class are omitted; celeba and utk attributes stay apart', () => {
    assert.equal(stats.directions.Eyeglasses, undefined, 'only 10 positives');
    assert.equal(stats.directions.Bald, undefined, 'no positives');
    assert.ok(stats.directions.Male, 'Male: 50/50');
    assert.equal(stats.directions.Male.positives + stats.directions.Male.negatives, N_CELEBA, 'Male counted on celeba only');
    assert.ok(cos(stats.directions.Male.vector, axis(SMILE_AXIS)) < 0.5, 'Male is independent of the smile axis here');
    for (const k of ['age', 'gender', 'race']) assert.equal(stats.directions[k], undefined, `no direction named ${k}`);
    assert.deepEqual(Object.keys(stats.directions).sort(), ['Male', 'Smiling', 'utk_age', 'utk_male']);
  });

  test('the result is deterministic and serialisable (writeIdentityStats)', async () => {
    const written = await writeIdentityStats(dir);
    const parsed = JSON.parse(readFileSync(join(dir, 'identity_stats.json'), 'utf8')) as IdentityStats;
    assert.deepEqual(parsed, written);
    assert.deepEqual(written, stats);
  });

  test('mismatched embedder ids throw', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'face0-idstats-bad-'));
    try {
      const samples = makeSamples().slice(0, 6);
      samples[4] = { ...samples[4], meta: { ...samples[4].meta, embedder: 'some-other-net/align5' } };
      await writeShard(join(bad, shardName(0)), samples.slice(0, 3));
      await writeShard(join(bad, shardName(1)), samples.slice(3));
      await assert.rejects(computeIdentityStats(bad), /embedder/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  test('fewer than 2 samples throws', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'face0-idstats-empty-'));
    try {
      await assert.rejects(computeIdentityStats(empty), /at least 2 samples/);
      mkdirSync(join(empty, 'sub'));
      await writeShard(join(empty, shardName(0)), makeSamples().slice(0, 1));
      await assert.rejects(computeIdentityStats(empty), /at least 2 samples/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
