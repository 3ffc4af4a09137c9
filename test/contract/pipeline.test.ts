// generate() on the tiny bundle: determinism, identity sources, validation, abort.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createPipeline, type Pipeline } from '../../src/pipeline/generate.js';
import type { FaceEmbedder } from '../../src/pipeline/types.js';
import { Rng } from '../../src/diffusion/rng.js';
import { normalize, dot } from '../../src/identity/vec.js';
import { sampleIdentity } from '../../src/identity/prior.js';
import { TINY_BUNDLE } from '../helpers/fixture.js';

import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The embedder the tiny bundle was trained on (the fake analyzer below claims to be it). */
const EMBEDDER: string = JSON.parse(readFileSync(join(TINY_BUNDLE, 'manifest.json'), 'utf8')).face.embedder;
/** A stand-in analyzer: the embedding is a hash of the image bytes (what matters is the plumbing). */
function fakeAnalyzer(id = EMBEDDER): FaceEmbedder & { calls: number } {
  return {
    embedderId: id,
    calls: 0,
    async embedImage(input) {
      this.calls++;
      const bytes = typeof input === 'string' ? Buffer.from(input) : input;
      let h = 0;
      for (const b of bytes) h = (h * 31 + b) >>> 0;
      return { embedding: normalize(new Rng(h).normals(128)), faceCount: 1, faceIndex: 0, warnings: [] };
    },
  };
}

let p: Pipeline;
let analyzer: ReturnType<typeof fakeAnalyzer>;
const fast = { steps: 4, prompt: 'a photo of a smiling woman' };
before(async () => {
  analyzer = fakeAnalyzer();
  p = await createPipeline({ bundleDir: TINY_BUNDLE, threads: 2, faceAnalyzer: analyzer });
});
after(async () => p?.close());

test('same seed and inputs give byte-identical PNGs; another seed differs', async () => {
  for (const sampler of ['ddim', 'dpmpp_2m', 'euler'] as const) {
    const o = { ...fast, sampler, face: Buffer.from('photo-1'), seed: 1234, count: 2 };
    const a = await p.generate(o);
    const b = await p.generate(o);
    assert.equal(a.images.length, 2);
    assert.deepEqual(a.images.map((i) => i.seed), [1234, 1235]);
    for (let i = 0; i < 2; i++) assert.ok(a.images[i].png.equals(b.images[i].png), `${sampler} image ${i} differs between runs`);
    assert.ok(!a.images[0].png.equals(a.images[1].png), 'images of one batch must differ');
    const c = await p.generate({ ...o, seed: 99, count: 1 });
    assert.ok(!c.images[0].png.equals(a.images[0].png));
  }
  // DDIM with eta > 0 is still reproducible (noise from the per-image generator)
  const e1 = await p.generate({ ...fast, sampler: 'ddim', eta: 1, seed: 5, randomIdentity: 3 });
  const e2 = await p.generate({ ...fast, sampler: 'ddim', eta: 1, seed: 5, randomIdentity: 3 });
  const e0 = await p.generate({ ...fast, sampler: 'ddim', eta: 0, seed: 5, randomIdentity: 3 });
  assert.ok(e1.images[0].png.equals(e2.images[0].png));
  assert.ok(!e1.images[0].png.equals(e0.images[0].png));
});

test('PNG is a valid RGB image of the bundle resolution; metadata records everything', async () => {
  // the tiny bundle has no attribute directions: add one for this test
  const dirs = p.bundle.manifest.identity.directions as Record<string, { vector: number[] }>;
  dirs.TestDir = { vector: Array.from(new Rng(8).normals(128)) };
  const r = await p.generate({ ...fast, randomIdentity: 42, attributes: { TestDir: 0.5 }, seed: 7, textScale: 4, faceScale: 1.5 });
  delete dirs.TestDir;
  const meta = await sharp(r.images[0].png).metadata();
  assert.equal(meta.format, 'png');
  assert.deepEqual([meta.width, meta.height, meta.channels], [64, 64, 3]);
  const m = r.metadata;
  assert.equal(m.seed, 7);
  assert.equal(m.steps, 4);
  assert.equal(m.sampler, 'dpmpp_2m'); // bundle default
  assert.equal(m.text_scale, 4);
  assert.equal(m.face_scale, 1.5);
  assert.equal(m.identity.source, 'random');
  assert.equal(m.identity.random_identity_seed, 42);
  assert.equal(m.identity.embedding!.length, 128);
  assert.equal(m.guidance.mode, 'text+face');
  assert.equal(m.unet_batch, 3);
  assert.equal(m.unet_evals, 4);
  for (const k of ['face_ms', 'text_ms', 'sampling_ms', 'decode_ms', 'total_ms'] as const) assert.ok(m.timings[k] >= 0);
  // the attribute moved the identity away from the plain random identity
  const plain = sampleIdentity(p.bundle.manifest.identity, 42);
  assert.ok(dot(plain, m.identity.embedding!) < 0.99999);
});

test('identity sources: faces average, mix, embedding cache, face-off and face-only modes', async () => {
  const calls0 = analyzer.calls;
  const a = await p.generate({ ...fast, faces: [Buffer.from('x'), Buffer.from('y')], seed: 1 });
  assert.equal(a.metadata.identity.source, 'faces');
  assert.equal(analyzer.calls - calls0, 2);
  await p.generate({ ...fast, face: Buffer.from('x'), seed: 1 });
  assert.equal(analyzer.calls - calls0, 2, 'a photo already embedded is served from the cache');
  const m = await p.generate({ ...fast, mix: [[Buffer.from('x'), 0.7], [Buffer.from('y'), 0.3]], seed: 1 });
  assert.deepEqual(m.metadata.identity.mix_weights, [0.7, 0.3]);
  const off = await p.generate({ ...fast, face: Buffer.from('x'), faceScale: 0, seed: 1 });
  const none = await p.generate({ ...fast, seed: 1 });
  assert.equal(off.metadata.guidance.mode, 'text');
  assert.ok(off.images[0].png.equals(none.images[0].png), 'face_scale 0 is the base model');
  assert.ok(off.metadata.warnings.some((w) => /face scale is 0/.test(w)));
  const faceOnly = await p.generate({ ...fast, prompt: '', face: Buffer.from('x'), seed: 1 });
  assert.equal(faceOnly.metadata.guidance.mode, 'face');
  assert.equal(faceOnly.metadata.unet_batch, 2);
  const unk = await p.generate({ ...fast, prompt: 'a photo of a zebra', seed: 1 });
  assert.ok(unk.metadata.warnings.some((w) => /zebra/.test(w)));
});

/** A pipeline on a copy of the tiny bundle whose manifest has these defaults (the caller closes it). */
async function pipelineWithDefaults(defaults: Record<string, number>): Promise<Pipeline> {
  const dir = mkdtempSync(join(tmpdir(), 'face0-defaults-'));
  cpSync(TINY_BUNDLE, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  Object.assign(m.defaults, defaults);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  return createPipeline({ bundleDir: dir, threads: 2, faceAnalyzer: fakeAnalyzer(), warmup: false });
}

test('face start: the noisiest steps follow the text alone, then the face joins', async () => {
  const o = { ...fast, sampler: 'ddim' as const, face: Buffer.from('photo-1'), seed: 21 };
  const on = await p.generate(o);
  const off = await p.generate({ ...o, faceScale: 0 });
  assert.equal(on.metadata.face_start, 0);
  assert.ok(on.images[0].png.equals((await p.generate({ ...o, faceStart: 0 })).images[0].png), 'face start 0 is the plain face guidance');
  assert.ok(on.images[0].png.equals((await p.generate({ ...o, faceStart: 0.1 })).images[0].png), '0.1 of 4 steps rounds to none');
  const half = await p.generate({ ...o, faceStart: 0.5 });
  assert.equal(half.metadata.face_start, 0.5);
  assert.equal(half.metadata.guidance.face_from_step, 2);
  assert.equal(half.metadata.guidance.mode, 'text+face');
  assert.equal(half.metadata.guidance.early?.mode, 'text');
  assert.equal(half.metadata.unet_evals, 4, 'one UNet call a step either way');
  assert.ok(!half.images[0].png.equals(on.images[0].png), 'the early steps must not have the face');
  assert.ok(!half.images[0].png.equals(off.images[0].png), 'the late steps must have the face');
  const later = await p.generate({ ...o, faceStart: 0.75 });
  assert.equal(later.metadata.guidance.face_from_step, 3);
  assert.ok(!later.images[0].png.equals(half.images[0].png));
  assert.ok(!later.images[0].png.equals(off.images[0].png), 'the last step has the face');
  // without a face there is nothing to delay
  const none = await p.generate({ ...fast, sampler: 'ddim', seed: 21 });
  assert.ok(none.images[0].png.equals((await p.generate({ ...fast, sampler: 'ddim', seed: 21, faceStart: 0.5 })).images[0].png));
  // a bundle's manifest may make it the default (defaults.face_start); the option still overrides it
  const q = await pipelineWithDefaults({ face_start: 0.5 });
  const random = { ...fast, sampler: 'ddim' as const, randomIdentity: 5, seed: 21 };
  try {
    const byDefault = await q.generate(o);
    assert.equal(byDefault.metadata.face_start, 0.5);
    assert.ok(byDefault.images[0].png.equals(half.images[0].png));
    assert.ok((await q.generate({ ...o, faceStart: 0 })).images[0].png.equals(on.images[0].png));
    // without defaults.face_start_random a random identity takes defaults.face_start too
    assert.equal((await q.generate(random)).metadata.face_start, 0.5);
  } finally {
    await q.close();
  }
  // defaults.face_start_random: random identities only; photos keep defaults.face_start
  const r = await pipelineWithDefaults({ face_start: 0.5, face_start_random: 0 });
  try {
    assert.ok((await r.generate(o)).images[0].png.equals(half.images[0].png), 'a photo keeps face_start');
    const drawn = await r.generate(random);
    assert.equal(drawn.metadata.face_start, 0);
    assert.equal(drawn.metadata.guidance.face_from_step, undefined);
    assert.ok(drawn.images[0].png.equals((await p.generate(random)).images[0].png), 'a random identity samples as with face start 0');
    assert.equal((await r.generate({ ...random, faceStart: 0.5 })).metadata.face_start, 0.5, 'the option still overrides');
  } finally {
    await r.close();
  }
});

test('guidance rescale: 0 is the plain guidance, φ changes the picture, a manifest default applies and the option overrides it', async () => {
  const o = { ...fast, face: Buffer.from('photo-1'), seed: 21, textScale: 6, faceScale: 4 };
  const plain = await p.generate(o);
  assert.equal(plain.metadata.guidance_rescale, 0);
  assert.ok(plain.images[0].png.equals((await p.generate({ ...o, guidanceRescale: 0 })).images[0].png), 'φ 0 is off');
  const resc = await p.generate({ ...o, guidanceRescale: 0.7 });
  assert.equal(resc.metadata.guidance_rescale, 0.7);
  assert.ok(!resc.images[0].png.equals(plain.images[0].png), 'φ 0.7 must change the picture');
  const q = await pipelineWithDefaults({ guidance_rescale: 0.7 });
  try {
    const byDefault = await q.generate(o);
    assert.equal(byDefault.metadata.guidance_rescale, 0.7);
    assert.ok(byDefault.images[0].png.equals(resc.images[0].png));
    assert.ok((await q.generate({ ...o, guidanceRescale: 0 })).images[0].png.equals(plain.images[0].png), 'the option overrides');
  } finally {
    await q.close();
  }
});

test('bad inputs give clear errors', async () => {
  const cases: [object, RegExp][] = [
    [{ steps: 0 }, /steps must be an integer in \[1, 1000\], got 0/],
    [{ steps: 2.5 }, /steps must be an integer/],
    [{ textScale: -1 }, /text scale must be a number in \[0, 50\]/],
    [{ faceScale: NaN }, /face scale/],
    [{ faceStart: 1 }, /face start must be a number in \[0, 0.99\], got 1/],
    [{ faceStart: -0.1 }, /face start must be a number/],
    [{ guidanceRescale: 1.2 }, /guidance rescale must be a number in \[0, 1\], got 1.2/],
    [{ count: 0 }, /count must be an integer in \[1, 64\]/],
    [{ seed: -3 }, /seed must be an integer/],
    [{ eta: 2, sampler: 'ddim' }, /eta must be a number in \[0, 1\]/],
    [{ eta: 0.5, sampler: 'euler' }, /eta applies to the ddim sampler only/],
    [{ sampler: 'plms' }, /unknown sampler "plms"/],
    [{ face: Buffer.from('a'), randomIdentity: 3 }, /only one identity source, got face and randomIdentity/],
    [{ attributes: { Young: 1 } }, /attributes edit an identity/],
    [{ randomIdentity: 1, attributes: { NoSuchThing: 1 } }, /unknown attribute "NoSuchThing"; this bundle has: /],
    [{ embedding: new Float32Array(5) }, /embedding has 5 values, bundle "face0-tiny-fixture" expects 128/],
    [{ embedding: new Float32Array(128).fill(0.1), embeddingEmbedder: 'arcface' }, /made by "arcface" but bundle .* was trained on/],
    [{ face: '/no/such/photo.jpg' }, /cannot read face photo \/no\/such\/photo\.jpg: no such file/],
    [{ initialNoise: new Float32Array(3) }, /initialNoise must be a Float32Array of 12288 values/],
  ];
  for (const [o, re] of cases) await assert.rejects(p.generate({ ...fast, ...o } as any), re, JSON.stringify(o));
  const other = await createPipeline({ bundleDir: TINY_BUNDLE, threads: 1, faceAnalyzer: fakeAnalyzer('other-net'), warmup: false, verify: false });
  await assert.rejects(other.generate({ ...fast, face: Buffer.from('a') }), /the face analyzer was made by "other-net"/);
  await other.close();
});

test('progress callback and abort', async () => {
  const seen: number[] = [];
  await p.generate({ ...fast, steps: 3, seed: 1, onStep: (i, n) => seen.push(i * 10 + n) });
  assert.deepEqual(seen, [13, 23, 33]);
  const ac = new AbortController();
  await assert.rejects(p.generate({ ...fast, steps: 5, seed: 1, signal: ac.signal, onStep: (i) => i === 2 && ac.abort() }), { name: 'AbortError' });
  // the pipeline is usable afterwards
  assert.equal((await p.generate({ ...fast, steps: 2, seed: 1 })).images.length, 1);
});
