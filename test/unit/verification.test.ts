// Face verification metrics (src/eval/verification.ts): best-threshold accuracy against a brute
// force and hand-computed cases, k-fold accuracy, pair sampling, cosine.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bestThreshold, cosine, kFoldAccuracy, makePairs, type ScoredPair } from '../../src/eval/verification.js';
import { mulberry32 } from '../../src/data/random.js';

const pairs = (same: number[], diff: number[]): ScoredPair[] =>
  [...same.map((score) => ({ score, same: true })), ...diff.map((score) => ({ score, same: false }))];

/** Accuracy when pairs with score ≥ t are called "same". */
const accuracyAt = (ps: readonly ScoredPair[], t: number) => ps.filter((p) => (p.score >= t) === p.same).length / ps.length;

/** Best accuracy over every threshold that can make a difference: each score, and +∞. */
const bruteForceBest = (ps: readonly ScoredPair[]) => Math.max(...[...ps.map((p) => p.score), Infinity].map((t) => accuracyAt(ps, t)));

describe('bestThreshold', () => {
  test('separable data: accuracy 1, threshold between the classes', () => {
    const ps = pairs([0.9, 0.8, 0.75, 0.6], [0.1, 0.3, 0.45, -0.2]);
    const { threshold, accuracy } = bestThreshold(ps);
    assert.equal(accuracy, 1);
    assert.ok(threshold > 0.45 && threshold <= 0.6, `threshold ${threshold}`);
    assert.equal(accuracyAt(ps, threshold), 1);
  });

  test('overlapping data: the hand-computed optimum', () => {
    // sorted: .1d .2d .3d .4s .5d .6d .7s .8s .9s 1.0s
    // calling everything below the cut "different", correct counts per cut:
    // none 5, after .1 6, .2 7, .3 8, .4 7, .5 8, .6 9, .7 8, .8 7, .9 6, 1.0 5 → unique best 9/10, cut between .6 and .7
    const ps = pairs([0.4, 0.7, 0.8, 0.9, 1.0], [0.1, 0.2, 0.3, 0.5, 0.6]);
    const { threshold, accuracy } = bestThreshold(ps);
    assert.equal(accuracy, 0.9);
    assert.ok(threshold > 0.6 && threshold <= 0.7, `threshold ${threshold}`);
    assert.equal(accuracyAt(ps, threshold), 0.9);
  });

  test('all same / all different: accuracy 1 with a threshold below / above every score', () => {
    const allSame = pairs([0.2, 0.5, 0.9], []);
    let r = bestThreshold(allSame);
    assert.equal(r.accuracy, 1);
    assert.ok(r.threshold <= 0.2);
    const allDiff = pairs([], [0.2, 0.5, 0.9]);
    r = bestThreshold(allDiff);
    assert.equal(r.accuracy, 1);
    assert.ok(r.threshold > 0.9);
  });

  test('tied scores are never split by the threshold', () => {
    // .2d, .5d, .5s, .8s: the tie at .5 must fall on one side: best 3/4, not 4/4
    const ps = pairs([0.5, 0.8], [0.2, 0.5]);
    const { threshold, accuracy } = bestThreshold(ps);
    assert.equal(accuracy, 0.75);
    assert.equal(accuracyAt(ps, threshold), 0.75);
    // every pair with the same score gets the same label: the same-pairs at 0.5 can't be rescued
    const allTied = pairs([0.5, 0.5, 0.5], [0.5, 0.5]);
    assert.equal(bestThreshold(allTied).accuracy, 0.6);
  });

  test('matches a brute force on random data, and the reported threshold achieves the reported accuracy', () => {
    const rand = mulberry32(11);
    for (let trial = 0; trial < 30; trial++) {
      const n = 5 + Math.floor(rand() * 60);
      const ps: ScoredPair[] = Array.from({ length: n }, () => {
        const same = rand() < 0.5;
        // coarse rounding makes ties common
        return { same, score: Math.round((rand() + (same ? 0.4 : 0)) * 20) / 20 };
      });
      const { threshold, accuracy } = bestThreshold(ps);
      assert.equal(accuracy, bruteForceBest(ps), `trial ${trial}`);
      assert.equal(accuracyAt(ps, threshold), accuracy, `trial ${trial}: threshold ${threshold}`);
    }
  });

  test('no pairs throws', () => {
    assert.throws(() => bestThreshold([]), /no pairs/);
  });
});

describe('kFoldAccuracy', () => {
  const noisy = (seed: number, n: number): ScoredPair[] => {
    const rand = mulberry32(seed);
    return Array.from({ length: n }, (_, i) => {
      const same = i % 2 === 0;
      const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      return { same, score: (same ? 0.6 : 0.2) + 0.2 * g };
    });
  };

  test('never above the best (in-sample) accuracy; deterministic per seed', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const ps = noisy(seed, 200);
      const best = bestThreshold(ps).accuracy;
      for (const k of [2, 5, 10]) {
        const kf = kFoldAccuracy(ps, k, seed);
        assert.ok(kf <= best + 1e-12, `k=${k}: ${kf} > ${best}`);
        assert.ok(kf > 0.7, `k=${k}: ${kf} on data that is ~84% separable`);
        assert.equal(kFoldAccuracy(ps, k, seed), kf);
      }
    }
  });

  test('well separated classes: 1.0', () => {
    const rand = mulberry32(9);
    const ps = Array.from({ length: 100 }, (_, i) => ({ same: i % 3 === 0, score: (i % 3 === 0 ? 0.8 : 0.1) + rand() * 0.1 }));
    assert.equal(kFoldAccuracy(ps, 10, 0), 1);
  });

  test('every pair is scored exactly once (k larger than the data)', () => {
    // with k = n each fold holds one pair; accuracy is a multiple of 1/n
    const ps = pairs([0.9, 0.8, 0.7], [0.1, 0.2, 0.3]);
    const acc = kFoldAccuracy(ps, 6, 0);
    assert.equal(acc, 1); // leave-one-out on separable data with a margin
    const acc20 = kFoldAccuracy(ps, 20, 0); // empty folds are skipped, not counted
    assert.equal(acc20, 1);
  });
});

describe('makePairs', () => {
  const groups = new Map<string, string[]>([
    ['A', ['A1', 'A2', 'A3']],
    ['B', ['B1', 'B2', 'B3', 'B4']],
    ['C', ['C1', 'C2']],
    ['D', ['D1']],
  ]);
  const idOf = (item: string) => item[0];

  test('all within-identity pairs once, as many different-identity pairs, none pairing an identity with itself', () => {
    for (const seed of [0, 1, 7]) {
      const out = makePairs(groups, seed);
      const same = out.filter((p) => p.same), diff = out.filter((p) => !p.same);
      assert.equal(same.length, 3 + 6 + 1 + 0); // C(3,2) + C(4,2) + C(2,2) + C(1,2)
      assert.equal(diff.length, same.length);
      const keys = new Set(same.map((p) => [p.a, p.b].sort().join('|')));
      assert.equal(keys.size, same.length, 'no duplicate same-pairs');
      for (const p of same) { assert.equal(idOf(p.a), idOf(p.b)); assert.notEqual(p.a, p.b); }
      for (const p of diff) assert.notEqual(idOf(p.a), idOf(p.b), `${p.a} vs ${p.b} is labelled different`);
    }
  });

  test('different-identity pairs cover several identity combinations; seeded', () => {
    const big = new Map(Array.from({ length: 10 }, (_, g) => [`id${g}`, [`id${g}:0`, `id${g}:1`, `id${g}:2`]]));
    const out = makePairs(big, 3);
    const diff = out.filter((p) => !p.same);
    assert.equal(diff.length, 30);
    const combos = new Set(diff.map((p) => [p.a.split(':')[0], p.b.split(':')[0]].sort().join('-')));
    assert.ok(combos.size >= 15, `${combos.size} identity combinations`);
    for (const p of diff) assert.notEqual(p.a.split(':')[0], p.b.split(':')[0]);
    assert.deepEqual(makePairs(big, 3), out);
    assert.notDeepEqual(makePairs(big, 4), out);
  });

  test('fewer than two identities throws', () => {
    assert.throws(() => makePairs(new Map([['A', ['A1', 'A2']]])), /two identities/);
  });
});

describe('cosine', () => {
  test('known values; scale invariant', () => {
    const v = (...x: number[]) => Float32Array.from(x);
    assert.equal(cosine(v(1, 0), v(0, 1)), 0);
    assert.ok(Math.abs(cosine(v(1, 0), v(1, 1)) - Math.SQRT1_2) < 1e-7);
    assert.ok(Math.abs(cosine(v(3, 4), v(6, 8)) - 1) < 1e-7);
    assert.ok(Math.abs(cosine(v(3, 4), v(-0.3, -0.4)) + 1) < 1e-7);
    assert.ok(Math.abs(cosine(v(1, 2, 3), v(4, 5, 6)) - 32 / Math.sqrt(14 * 77)) < 1e-7);
  });
});
