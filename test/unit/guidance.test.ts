import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planGuidance, combineGuidance, faceStartStep, threeWay } from '../../src/diffusion/guidance.js';
import { spliceFaceTokens, batchContexts } from '../../src/pipeline/context.js';

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('three-way guidance matches the contract formula, branch-major batch', () => {
  const plan = planGuidance({ hasText: true, hasFace: true, textScale: 3, faceScale: 2 });
  assert.equal(plan.mode, 'text+face');
  assert.deepEqual(plan.branches, ['uncond', 'text', 'text_face']);
  const n = 5;
  const pred = Float32Array.from({ length: 3 * n }, (_, i) => Math.sin(i * 1.7) * 2);
  const out = combineGuidance(pred, plan.weights, new Float32Array(n));
  for (let k = 0; k < n; k++) {
    const u = pred[k], t = pred[n + k], tf = pred[2 * n + k];
    close(out[k], u + 3 * (t - u) + 2 * (tf - t));
    close(out[k], threeWay(u, t, tf, 3, 2));
  }
});

test('s_text = s_face drops the zero-weight text branch: the base model\'s two evaluations', () => {
  const plan = planGuidance({ hasText: true, hasFace: true, textScale: 2.5, faceScale: 2.5 });
  assert.equal(plan.mode, 'joint');
  assert.deepEqual(plan.branches, ['uncond', 'text_face']);
  const n = 4;
  const pred = Float32Array.from({ length: 2 * n }, (_, i) => Math.cos(i * 0.9) * 3);
  const out = combineGuidance(pred, plan.weights, new Float32Array(n));
  for (let k = 0; k < n; k++) {
    const u = pred[k], tf = pred[n + k];
    // equals the three-way formula whatever the skipped text branch would have held
    for (const t of [-7, 0, 3.3]) close(out[k], threeWay(u, t, tf, 2.5, 2.5));
  }
  // s = 1 gives the conditional prediction itself
  const one = combineGuidance(pred, planGuidance({ hasText: true, hasFace: true, textScale: 1, faceScale: 1 }).weights, new Float32Array(n));
  for (let k = 0; k < n; k++) close(one[k], pred[n + k]);
});

test('face_scale = 0 (or no face) is the base model CFG with two evaluations', () => {
  const a = planGuidance({ hasText: true, hasFace: true, textScale: 4, faceScale: 0 });
  const b = planGuidance({ hasText: true, hasFace: false, textScale: 4, faceScale: 2 });
  for (const p of [a, b]) {
    assert.equal(p.mode, 'text');
    assert.deepEqual(p.branches, ['uncond', 'text']);
    const pred = Float32Array.from([1, 2, 5, 3]);
    const out = combineGuidance(pred, p.weights, new Float32Array(2));
    close(out[0], 1 + 4 * (5 - 1));
    close(out[1], 2 + 4 * (3 - 2));
    // equals the 3-way formula with s_face = 0 whatever the face branch holds
    close(out[0], threeWay(1, 5, 123, 4, 0));
  }
});

test('face-only (empty prompt) and unconditional modes', () => {
  const f = planGuidance({ hasText: false, hasFace: true, textScale: 3, faceScale: 2.5 });
  assert.equal(f.mode, 'face');
  assert.deepEqual(f.branches, ['uncond', 'face']);
  const out = combineGuidance(Float32Array.from([1, 3]), f.weights, new Float32Array(1));
  // formula with ε(text,∅) = ε(∅,∅): u + s_face·(face − u)
  close(out[0], 1 + 2.5 * (3 - 1));
  const u = planGuidance({ hasText: false, hasFace: false, textScale: 3, faceScale: 2 });
  assert.deepEqual(u.branches, ['uncond']);
  assert.throws(() => planGuidance({ hasText: true, hasFace: true, textScale: NaN, faceScale: 1 }), /text scale/);
  assert.throws(() => combineGuidance(new Float32Array(5), [0.5, 0.5], new Float32Array(2)), /expected 2 branches/);
});

test('splice replaces exactly the last K positions', () => {
  const L = 6, K = 2, D = 3;
  const text = Float32Array.from({ length: L * D }, (_, i) => i + 1);
  const face = Float32Array.from({ length: K * D }, (_, i) => -(i + 1));
  const ctx = spliceFaceTokens(text, face, L, K, D);
  for (let p = 0; p < L; p++) {
    for (let c = 0; c < D; c++) {
      const v = ctx[p * D + c];
      if (p < L - K) assert.equal(v, text[p * D + c]);
      else assert.equal(v, face[(p - (L - K)) * D + c]);
    }
  }
  assert.equal(text[(L - 1) * D], (L - 1) * D + 1, 'the text encoding itself is not modified');
  assert.throws(() => spliceFaceTokens(text, new Float32Array(5), L, K, D), /face tokens/);
  const b = batchContexts([Float32Array.from([1, 2]), Float32Array.from([3, 4])], 2);
  assert.deepEqual(Array.from(b), [1, 2, 1, 2, 3, 4, 3, 4]);
});

test('face start: the first face step is the fraction of the steps, rounded, never past the last', () => {
  const face = planGuidance({ hasText: true, hasFace: true, textScale: 6, faceScale: 4 });
  assert.equal(faceStartStep(0, 20, face), 0);
  assert.equal(faceStartStep(0.3, 20, face), 6);
  assert.equal(faceStartStep(0.1, 4, face), 0); // 0.4 steps rounds to none
  assert.equal(faceStartStep(0.5, 4, face), 2);
  assert.equal(faceStartStep(0.99, 4, face), 3); // the last step keeps the face
  // no face branch: nothing to delay
  assert.equal(faceStartStep(0.5, 20, planGuidance({ hasText: true, hasFace: false, textScale: 6, faceScale: 4 })), 0);
  assert.equal(faceStartStep(0.5, 20, planGuidance({ hasText: false, hasFace: true, textScale: 6, faceScale: 4 })), 10);
});

test('guidance rescale: φ = 1 gives each image the conditional branch\'s spread, φ mixes linearly, 0 is off', async () => {
  const { rescaleGuidance } = await import('../../src/diffusion/guidance.js');
  const plan = planGuidance({ hasText: true, hasFace: true, textScale: 6, faceScale: 4 });
  const count = 2, px = 50, n = count * px;
  const pred = Float32Array.from({ length: 3 * n }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7) / 3));
  const sd = (a: Float32Array, o: number) => {
    const v = Array.from(a.subarray(o, o + px));
    const m = v.reduce((s, x) => s + x, 0) / px;
    return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / px);
  };
  const guided = combineGuidance(pred, plan.weights, new Float32Array(n));
  const off = rescaleGuidance(guided.slice(), pred, 3, count, 0);
  assert.deepEqual(off, guided);
  const full = rescaleGuidance(guided.slice(), pred, 3, count, 1);
  const half = rescaleGuidance(guided.slice(), pred, 3, count, 0.5);
  for (let i = 0; i < count; i++) {
    // the guided spread is far wider than the conditional branch's (text_face, the last), and φ = 1 matches it
    assert.ok(sd(guided, i * px) > 2 * sd(pred, 2 * n + i * px));
    close(sd(full, i * px), sd(pred, 2 * n + i * px), 1e-5);
    for (let k = i * px; k < (i + 1) * px; k++) close(half[k], 0.5 * full[k] + 0.5 * guided[k], 1e-5);
  }
  // images are rescaled each by its own spread: scaling image 1's branches leaves image 0 as it was
  const pred2 = pred.slice();
  for (let b = 0; b < 3; b++) for (let k = b * n + px; k < b * n + 2 * px; k++) pred2[k] *= 10;
  const full2 = rescaleGuidance(combineGuidance(pred2, plan.weights, new Float32Array(n)), pred2, 3, count, 1);
  for (let k = 0; k < px; k++) close(full2[k], full[k], 1e-5);
  assert.throws(() => rescaleGuidance(guided.slice(), pred, 3, count, 1.5), /guidance rescale must be in \[0, 1\]/);
  assert.throws(() => rescaleGuidance(guided.slice(), pred, 2, count, 0.7), /expected 2 branches/);
});
