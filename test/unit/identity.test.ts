import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slerp } from '../../src/identity/slerp.js';
import { meanEmbedding, mixEmbeddings } from '../../src/identity/mean.js';
import { sampleIdentity } from '../../src/identity/prior.js';
import { applyAttributes } from '../../src/identity/directions.js';
import { dot, norm, normalize } from '../../src/identity/vec.js';
import { Rng } from '../../src/diffusion/rng.js';

const close = (a: number, b: number, tol = 1e-5, msg = '') => assert.ok(Math.abs(a - b) < tol, `${msg} ${a} vs ${b}`);
const rand = (seed: number, n = 128) => normalize(new Rng(seed).normals(n));

test('slerp: endpoints, unit norm, angle halving, extrapolation', () => {
  const a = rand(1), b = rand(2);
  const angle = Math.acos(dot(a, b));
  const s0 = slerp(a, b, 0), s1 = slerp(a, b, 1), h = slerp(a, b, 0.5);
  for (let i = 0; i < 128; i++) {
    close(s0[i], a[i]);
    close(s1[i], b[i]);
  }
  for (const t of [0, 0.1, 0.5, 0.9, 1, 1.5]) close(norm(slerp(a, b, t)), 1, 1e-5, `norm at ${t}`);
  close(Math.acos(Math.min(1, dot(h, a))), angle / 2, 1e-4, 'half angle to a');
  close(Math.acos(Math.min(1, dot(h, b))), angle / 2, 1e-4, 'half angle to b');
  close(Math.acos(Math.min(1, dot(slerp(a, b, 0.25), a))), angle / 4, 1e-4, 'quarter');
  // unnormalised inputs are normalised first
  const big = a.map((v) => v * 7);
  close(dot(slerp(big, b, 0.5), h), 1, 1e-6);
});

test('slerp degenerate cases', () => {
  const a = rand(3);
  const same = slerp(a, a, 0.3);
  for (let i = 0; i < 128; i++) close(same[i], a[i]);
  assert.throws(() => slerp(a, a.map((v) => -v), 0.5), /opposite/);
  assert.throws(() => slerp(new Float32Array(128), a, 0.5), /length is 0/);
  assert.throws(() => slerp(a, new Float32Array(3), 0.5), /different lengths/);
});

test('mean and mix renormalise', () => {
  const a = rand(4), b = rand(5);
  const m = meanEmbedding([a, b]);
  close(norm(m), 1);
  const raw = a.map((v, i) => v + b[i]);
  close(dot(m, normalize(raw)), 1, 1e-6);
  const w = mixEmbeddings([[a, 0.7], [b, 0.3]]);
  close(norm(w), 1);
  assert.ok(dot(w, a) > dot(w, b), 'heavier weight pulls closer');
  const only = mixEmbeddings([[a, 1], [b, 0]]);
  close(dot(only, a), 1, 1e-6);
  assert.throws(() => mixEmbeddings([[a, 1], [b, -1]]), /sum to a positive/);
  assert.throws(() => meanEmbedding([]), /at least one/);
});

test('prior sampling: deterministic per seed, unit norm, mean direction', () => {
  const d = 16;
  const mean = Array.from({ length: d }, (_, i) => (i === 0 ? 0.8 : 0));
  const chol = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (j < i ? 0.01 : i === j ? 0.15 : 99)));
  // (entries above the diagonal are garbage on purpose: L is lower-triangular)
  const prior = { mean, cholesky: chol };
  const e1 = sampleIdentity(prior, 42), e2 = sampleIdentity(prior, 42), e3 = sampleIdentity(prior, 43);
  assert.deepEqual(Array.from(e1), Array.from(e2));
  assert.notDeepEqual(Array.from(e1), Array.from(e3));
  const acc = new Float64Array(d);
  for (let s = 0; s < 2000; s++) {
    const e = sampleIdentity(prior, s);
    close(norm(e), 1);
    for (let i = 0; i < d; i++) acc[i] += e[i];
  }
  const dir = normalize(acc);
  assert.ok(dir[0] > 0.99, `mean of draws points along the prior mean: ${dir[0]}`);
  // and it is actually random around it (not collapsed onto the mean)
  assert.ok(dot(e1, normalize(mean)) < 0.999);
  // first draw = normalize(mean + L·z) with z the first normals of Rng(seed)
  const z = new Rng(42).normals(d);
  const manual = mean.map((m, i) => m + chol[i].slice(0, i + 1).reduce((s, l, j) => s + l * z[j], 0));
  close(dot(e1, normalize(manual)), 1, 1e-6);
});

test('attribute directions: normalize(e + Σ a·v), unknown names listed', () => {
  const e = normalize([1, 0, 0]);
  const dirs = { Young: { vector: [0, 1, 0] }, Male: { vector: [0, 0, 2] } };
  const r = applyAttributes(e, { Young: 1 }, dirs);
  close(r[0], Math.SQRT1_2);
  close(r[1], Math.SQRT1_2);
  const r2 = applyAttributes(e, { Young: 1, Male: -0.5 }, dirs);
  const ref = normalize([1, 1, -1]);
  for (let i = 0; i < 3; i++) close(r2[i], ref[i]);
  assert.throws(() => applyAttributes(e, { Blonde: 1 }, dirs), /unknown attribute "Blonde"; this bundle has: Male, Young/);
  assert.throws(() => applyAttributes(e, { toString: 1 }, dirs), /unknown attribute "toString"/);
  assert.throws(() => applyAttributes(e, { Young: NaN }, dirs), /finite/);
});
