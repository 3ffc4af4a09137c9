import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapCI, centroid, faceRate, gapClosure, identification, identifyTop1, identityMetrics, mean, sDiff, sGen, sSame, type IdentityEmbeddings } from '../../src/eval/metrics.js';
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

test('centroid: mean of the non-null embeddings, optionally leaving one out', () => {
  assert.deepEqual(centroid([v(1, 0), null, v(0, 1)]), v(0.5, 0.5));
  assert.deepEqual(centroid([v(1, 0), null, v(0, 1)], 0), v(0, 1));
  assert.equal(centroid([v(1, 0), null], 0), null);
  assert.equal(centroid([]), null);
});

test('identification: an image equal to person 2\'s centroid is identified as person 2', () => {
  const people: IdentityEmbeddings[] = [
    { id: 'a', real: [v(1, 0, 0), v(0.9, 0.1, 0)], gen: [{ source: 0, embedding: v(0, 0.5, 0.5) }] },
    { id: 'b', real: [v(0, 1, 0), v(0, 0.9, 0.1)], gen: [] },
    { id: 'c', real: [v(0, 0, 1), v(0, 1, 1), v(0, 1, 0)], gen: [{ source: 0, embedding: v(0, 1, 0.5) }] },
  ];
  // a's image sits on c's full centroid (0, 2/3, 2/3): identified as c, a miss for a
  // c's image sits on c's centroid without its source photo (0, 1, 0.5): a hit
  const r = identifyTop1(people);
  assert.deepEqual(r.map((x) => [x.person, x.predicted, x.hit]), [[0, 2, false], [2, 2, true]]);
  const id = identification(people, { B: 200, seed: 0 });
  assert.equal(id.top1, 0.5);
  assert.equal(id.hits, 1);
  assert.equal(id.n_images, 2);
});

test('identification: the source photo is left out of its own person\'s centroid only', () => {
  // copying the source photo must not count: with the source in a's centroid the image would be
  // closest to a (cos 0.894 > 0.8); without it, to b (0.6 < 0.8)
  const a = [v(1, 0, 0), v(0.6, 0, 0.8)];
  const b = [v(0.8, 0.6, 0), v(0.8, 0.6, 0)];
  const copy = v(1, 0, 0);
  const fromSource0: IdentityEmbeddings[] = [{ id: 'a', real: a, gen: [{ source: 0, embedding: copy }] }, { id: 'b', real: b, gen: [] }];
  assert.deepEqual(identifyTop1(fromSource0), [{ person: 0, predicted: 1, hit: false }]);
  // the same image said to come from photo 1: a's centroid is then photo 0 itself (cos 1)
  const fromSource1: IdentityEmbeddings[] = [{ id: 'a', real: a, gen: [{ source: 1, embedding: copy }] }, { id: 'b', real: b, gen: [] }];
  assert.deepEqual(identifyTop1(fromSource1), [{ person: 0, predicted: 0, hit: true }]);
  // other people's centroids keep every photo: b's image from b's photo 0 is nearer all of c
  // (cos 0.707) than b's other photo (0.6); with c's photo 0 left out too it would be a hit for b
  const c = [v(1, 0, 0), v(0, 0, 1)];
  const bImage: IdentityEmbeddings[] = [{ id: 'c', real: c, gen: [] }, { id: 'b', real: [v(0, 1, 0), v(0.6, 0.8, 0)], gen: [{ source: 0, embedding: v(1, 0, 0) }] }];
  assert.deepEqual(identifyTop1(bImage), [{ person: 1, predicted: 0, hit: false }]);
});

test('identification: no face, or no other real photo of the person, is a miss; ties go against the person', () => {
  const people: IdentityEmbeddings[] = [
    { id: 'a', real: [v(1, 0), v(1, 0.1)], gen: [{ source: 0, embedding: null }, { source: 0, embedding: v(1, 0) }] },
    { id: 'b', real: [v(0, 1), null], gen: [{ source: 0, embedding: v(0, 1) }] },
    { id: 'c', real: [v(1, 1), v(1, 1)], gen: [{ source: 0, embedding: v(1, 0) }] },
  ];
  const r = identifyTop1(people);
  assert.deepEqual(r.map((x) => x.hit), [false, true, false, false]);
  assert.equal(r[0].predicted, null); // no embedding
  assert.equal(r[2].predicted, null); // b's only other photo has no face
  const id = identification(people);
  assert.equal(id.n_images, 4);
  assert.equal(id.hits, 1);
  assert.equal(id.top1, 0.25);
  // exact tie between own and another centroid: not identified
  const tie: IdentityEmbeddings[] = [
    { id: 'a', real: [v(1, 0), v(1, 0)], gen: [{ source: 0, embedding: v(1, 1) }] },
    { id: 'b', real: [v(0, 1)], gen: [] },
  ];
  assert.deepEqual(identifyTop1(tie), [{ person: 0, predicted: 1, hit: false }]);
});

test('identification: chance = 1/N people; CI over people, deterministic, around the rate', () => {
  const e = (i: number) => Float32Array.from({ length: 4 }, (_, d) => (d === i ? 1 : 0.05));
  const people: IdentityEmbeddings[] = [0, 1, 2, 3].map((i) => ({ id: String(i), real: [e(i), e(i), e(i)], gen: [{ source: 0, embedding: e(i) }, { source: 1, embedding: e((i + 1) % 4) }] }));
  const id = identification(people, { B: 300, seed: 1 });
  assert.equal(id.n_people, 4);
  assert.equal(id.chance, 0.25);
  assert.equal(id.top1, 0.5);
  assert.ok(id.ci && id.ci.lo <= 0.5 && 0.5 <= id.ci.hi);
  assert.deepEqual(identification(people, { B: 300, seed: 1 }), id);
  const none = identification([]);
  assert.equal(none.top1, null);
  assert.equal(none.chance, null);
  assert.equal(none.ci, null);
});
