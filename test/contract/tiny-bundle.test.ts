// Contract tests on the tiny exported bundle: ONNX I/O, parity with torch, the full guided DDIM run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { loadBundle, type Bundle } from '../../src/model/bundle.js';
import { ModelSessions } from '../../src/model/sessions.js';
import { makeTimesteps } from '../../src/diffusion/schedule.js';
import { sampleDdim } from '../../src/diffusion/samplers.js';
import { combineGuidance, planGuidance } from '../../src/diffusion/guidance.js';
import { spliceFaceTokens, batchContexts } from '../../src/pipeline/context.js';
import { createPipeline, type Pipeline } from '../../src/pipeline/generate.js';
import { TINY_BUNDLE, reference, maxRelErr } from '../helpers/fixture.js';

const ref = reference();
let bundle: Bundle;
let s: ModelSessions;
let pipe: Pipeline;
before(async () => {
  bundle = await loadBundle(TINY_BUNDLE);
  s = await ModelSessions.create(bundle, { threads: 2 });
  pipe = await createPipeline({ bundleDir: TINY_BUNDLE, threads: 2, warmup: false });
});
after(async () => {
  await s?.release();
  await pipe?.close();
});

const io = (sess: any) => ({
  inputs: sess.inputMetadata.map((m: any) => [m.name, m.type, [...m.shape]]),
  outputs: sess.outputMetadata.map((m: any) => [m.name, m.type, [...m.shape]]),
});
/** Symbolic axes other than "batch" replaced by '?' (what the graph declares loosely). */
const loose = (x: any) => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'string' && v !== 'batch' && /_dim_|unk__|^[A-Z]/.test(v) ? '?' : v)));

test('ONNX I/O names, dtypes and input shapes match CONTRACTS §4 (golden)', async () => {
  const { L, D, K, E, C, H, W } = s;
  assert.deepEqual([L, D, K, E, C, H, W], [24, 64, 4, 128, 3, 64, 64]);
  assert.deepEqual(io(s.textEncoder), { inputs: [['input_ids', 'int64', ['batch', L]]], outputs: [['hidden', 'float32', ['batch', L, D]]] });
  assert.deepEqual(io(s.faceProjector), { inputs: [['embedding', 'float32', ['batch', E]]], outputs: [['tokens', 'float32', ['batch', K, D]]] });
  const u = io(s.unetSession);
  assert.deepEqual(u.inputs, [
    ['sample', 'float32', ['batch', C, H, W]],
    ['timestep', 'float32', ['batch']],
    ['context', 'float32', ['batch', L, D]],
  ]);
  assert.deepEqual(loose(u.outputs).map((o: any) => [o[0], o[1], o[2].length, o[2][0]]), [['prediction', 'float32', 4, 'batch']]);
  // whatever the graph declares, the runtime output is [B, C, H, W]
  const out = await s.unetSession.run({
    sample: new ort.Tensor('float32', new Float32Array(2 * C * H * W), [2, C, H, W]),
    timestep: new ort.Tensor('float32', new Float32Array(2), [2]),
    context: new ort.Tensor('float32', new Float32Array(2 * L * D), [2, L, D]),
  });
  assert.deepEqual(out.prediction.dims, [2, C, H, W]);
});

// CONTRACTS §4: "dynamic batch axis named batch on every input/output; the other axes are static".
// The exported unet.onnx declares its output as [batch, 3, DepthToSpaceprediction_dim_2, ..._dim_3]
// (symbolic H, W after a PixelShuffle/DepthToSpace); the exporter must declare 64, 64.
test('unet.onnx declares static non-batch output axes (CONTRACTS §4)', () => {
  const { C, H, W } = s;
  assert.deepEqual(io(s.unetSession).outputs, [['prediction', 'float32', ['batch', C, H, W]]]);
});

test('manifest and reference agree; sha256 of the files', () => {
  assert.deepEqual(bundle.manifest.files, ref.manifest_files);
  assert.equal(bundle.manifest.prediction_type, 'v');
  assert.equal(bundle.manifest.text.context_length, ref.dims.context_length);
});

test('tokenizer ids equal the Python tokenizer for every reference prompt', () => {
  for (const p of ref.prompts) {
    const enc = bundle.tokenizer.encode(p.text, s.L, s.K);
    assert.deepEqual(Array.from(enc.ids, Number), p.input_ids, p.text);
  }
  const long = ref.prompts.find((p: any) => p.text.includes('long caption'));
  assert.ok(bundle.tokenizer.encode(long.text, s.L, s.K).truncated);
});

test('alphas_cumprod from the manifest betas equals the torch schedule', () => {
  const ac = bundle.schedule.alphasCumprod;
  assert.equal(ac.length, ref.alphas_cumprod.length);
  for (let t = 0; t < ac.length; t++) {
    const r = ref.alphas_cumprod[t];
    assert.ok(Math.abs(ac[t] - r) <= 1e-9 * r, `t=${t}: ${ac[t]} vs ${r}`);
  }
});

test('text encoder (ONNX) matches torch', async () => {
  const ids = BigInt64Array.from(ref.text_hidden.input_ids.map(BigInt));
  const h = await s.encodeText(ids, 1);
  const err = maxRelErr(h, ref.text_hidden.hidden);
  assert.ok(err < ref.tolerance, `max error ${err}`);
});

test('face projector (ONNX) matches torch; splice replaces the last K positions', async () => {
  const tok = await s.projectFace(Float32Array.from(ref.face_tokens.embedding), 1);
  const err = maxRelErr(tok, ref.face_tokens.tokens);
  assert.ok(err < ref.tolerance, `max error ${err}`);
  const ctx = spliceFaceTokens(Float32Array.from(ref.text_hidden.hidden), Float32Array.from(ref.face_tokens.tokens), s.L, s.K, s.D);
  assert.ok(maxRelErr(ctx, ref.splice.context) < 1e-7);
});

test('UNet (ONNX) matches torch at a fractional timestep, and batches consistently', async (t) => {
  const x = Float32Array.from(ref.unet.sample);
  const ctx = Float32Array.from(ref.unet.context);
  const out = await s.unet(x, Float32Array.from([ref.unet.timestep]), ctx, 1);
  const err = maxRelErr(out, ref.unet.prediction);
  t.diagnostic(`unet max error vs torch: ${err.toExponential(2)}`);
  assert.ok(err < ref.tolerance, `max error ${err}`);
  // batch of 3 (as in three-way guidance) gives the same per-item result
  const px = x.length;
  const x3 = new Float32Array(3 * px);
  for (let b = 0; b < 3; b++) x3.set(x, b * px);
  const out3 = await s.unet(x3, Float32Array.from([ref.unet.timestep, ref.unet.timestep, ref.unet.timestep]), batchContexts([ctx, ctx, ctx], 1), 3);
  assert.ok(maxRelErr(out3.subarray(2 * px), ref.unet.prediction) < ref.tolerance);
});

test('first DDIM step (low-level: sessions + guidance + sampler) matches torch', async () => {
  const d = ref.ddim;
  assert.deepEqual(makeTimesteps(1000, d.steps, 'linspace'), d.timesteps);
  const hid = await s.encodeText(BigInt64Array.from([...d.empty_ids, ...d.input_ids].map(BigInt)), 2);
  const hEmpty = hid.slice(0, s.L * s.D), hText = hid.slice(s.L * s.D);
  const face = await s.projectFace(Float32Array.from(d.embedding), 1);
  const plan = planGuidance({ hasText: true, hasFace: true, textScale: d.text_scale, faceScale: d.face_scale });
  const ctx = batchContexts([hEmpty, hText, spliceFaceTokens(hText, face, s.L, s.K, s.D)], 1);
  const guided = new Float32Array(d.x_T.length);
  const x = Float32Array.from(d.x_T);
  await sampleDdim(x, async (xt, t) => {
    const b = new Float32Array(3 * xt.length);
    for (let k = 0; k < 3; k++) b.set(xt, k * xt.length);
    return combineGuidance(await s.unet(b, new Float32Array(3).fill(t), ctx, 3), plan.weights, guided);
  }, { schedule: bundle.schedule, timesteps: [d.timesteps[0]], finalAlphaBar: bundle.schedule.alphaBarAt(d.timesteps[1]), predictionType: 'v' });
  const err = maxRelErr(x, d.x_after_first_step);
  assert.ok(err < 1e-3, `max error ${err}`);
});

test('full 10-step guided DDIM through generate() matches the torch x_0 (face on and face_scale 0)', async (t) => {
  const d = ref.ddim;
  const common = {
    prompt: d.prompt, embedding: Float32Array.from(d.embedding), sampler: 'ddim' as const, steps: d.steps, eta: d.eta,
    textScale: d.text_scale, timestepSpacing: 'linspace' as const, initialNoise: Float32Array.from(d.x_T), seed: 0,
  };
  const on = await pipe.generate({ ...common, faceScale: d.face_scale });
  assert.equal(on.metadata.guidance.mode, 'text+face');
  assert.equal(on.metadata.unet_batch, 3);
  assert.equal(on.metadata.unet_evals, d.steps);
  assert.deepEqual(on.metadata.timesteps, d.timesteps);
  const errOn = maxRelErr(on.images[0].pixels!, d.x_0);
  t.diagnostic(`x_0 max error vs torch: ${errOn.toExponential(2)}`);
  assert.ok(errOn < 1e-3, `face on: max error ${errOn}`);
  const off = await pipe.generate({ ...common, faceScale: 0 });
  assert.equal(off.metadata.unet_batch, 2);
  const errOff = maxRelErr(off.images[0].pixels!, d.x_0_face_scale_0);
  assert.ok(errOff < 1e-3, `face_scale 0: max error ${errOff}`);
  // and the face made a difference (the comparison above is not vacuous)
  assert.ok(maxRelErr(d.x_0, d.x_0_face_scale_0) > 1e-2);
});
