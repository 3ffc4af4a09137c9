import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapCI, faceRate, gapClosure, identityMetrics, mean, sDiff, sGen, sSame, type IdentityEmbeddings } from '../../src/eval/metrics.js';
import { mulberry32 } from '../../src/data/random.js';

const v = (...xs: number[]) => Float32Array.from(xs);

test('G formula: (S_gen − S_diff)/(S_same − S_diff), undefined cases are null', () => {
  assert.equal(gapClosure(0.5, 0.9, 0.1), 0.5);
  assert.equal(gapClosure(0.9, 0.9, 0.1), 1);
  assert.equal(gapClosure(0.1, 0.9, 0.1), 0);
  assert.equal(gapClosure(null, 0.9, 0.1), null);
  assert.equal(gapClosure(0.5, 0.3, 0.3), null);
  assert.equal(gapClosure(0.5, 0.2, 0.3), null);
});

test('S_same, S_diff, S_gen on hand-made embeddings; S_gen never uses the source photo', () => {
  const people: IdentityEmbeddings[] = [
    { id: 'a', real: [v(1, 0, 0), v(1, 0, 0), null], gen: [{ source: 0, embedding: v(1, 0, 0) }] },
    { id: 'b', real: [v(0, 1, 0), v(0, 1, 0)], gen: [{ source: 1, embedding: v(0, 0, 1) }] },
  ];
  assert.equal(sSame(people), 1);
  assert.equal(sDiff(people), 0);
  assert.equal(sGen(people), 0.5); // a: 1, b: 0
  // the source photo is excluded: a generation equal to its source only scores against the others
  const p2: IdentityEmbeddings[] = [{ id: 'a', real: [v(1, 0), v(0, 1)], gen: [{ source: 0, embedding: v(1, 0) }] }];
  assert.equal(sGen(p2), 0);
  const m = identityMetrics(people);
  assert.equal(m.G, 0.5);
  assert.equal(m.face_rate, 1);
});

test('no generated face: face rate 0 and G null (not 0, not NaN)', () => {
  const people: IdentityEmbeddings[] = [
    { id: 'a', real: [v(1, 0), v(1, 0.1)], gen: [{ source: 0, embedding: null }] },
    { id: 'b', real: [v(0, 1), v(0.1, 1)], gen: [{ source: 0, embedding: null }] },
  ];
  const m = identityMetrics(people);
  assert.equal(m.face_rate, 0);
  assert.equal(m.s_gen, null);
  assert.equal(m.G, null);
  assert.deepEqual(faceRate([]), { rate: null, total: 0, found: 0 });
});

test('bootstrap CI contains the point estimate and is deterministic per seed', () => {
  const rand = mulberry32(3);
  const xs = Array.from({ length: 40 }, () => rand());
  const point = mean(xs)!;
  const ci = bootstrapCI(xs, (s) => mean(s), { B: 500, seed: 1 })!;
  assert.ok(ci.lo <= point && point <= ci.hi, `${ci.lo} ≤ ${point} ≤ ${ci.hi}`);
  assert.ok(ci.hi - ci.lo < 0.4);
  assert.deepEqual(bootstrapCI(xs, (s) => mean(s), { B: 500, seed: 1 }), ci);
  assert.equal(bootstrapCI([], (s) => mean(s as number[])), null);
  assert.equal(bootstrapCI([1, 2], () => null), null);
});
