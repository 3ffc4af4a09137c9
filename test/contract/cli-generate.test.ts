// `face0 generate` in-process (commander program from src/cli), on the tiny bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { cli } from '../helpers/cli.js';
import { createPipeline } from '../../src/pipeline/generate.js';
import { TINY_BUNDLE } from '../helpers/fixture.js';

test('generate writes PNGs, a JSON sidecar per image with every parameter, and a grid', async () => {
  const out = mkdtempSync(join(tmpdir(), 'face0-cli-'));
  await cli(['generate', '--bundle', TINY_BUNDLE, '--prompt', 'a photo of a man', '--random-identity', '5', '--count', '2',
    '--steps', '3', '--sampler', 'ddim', '--eta', '0.5', '--text-scale', '2.5', '--face-scale', '1.5', '--seed', '40', '--threads', '1', '--out', out, '--grid', '-q']);
  assert.deepEqual(readdirSync(out).sort(), ['face0-40.json', 'face0-40.png', 'face0-41.json', 'face0-41.png', 'face0-grid-40.png']);
  const side = JSON.parse(readFileSync(join(out, 'face0-41.json'), 'utf8'));
  assert.equal(side.image_seed, 41);
  assert.equal(side.file, 'face0-41.png');
  for (const [k, v] of Object.entries({ prompt: 'a photo of a man', steps: 3, sampler: 'ddim', eta: 0.5, text_scale: 2.5, face_scale: 1.5, seed: 40, count: 2, threads: 1 })) {
    assert.deepEqual(side[k], v, k);
  }
  assert.equal(side.identity.random_identity_seed, 5);
  assert.ok(side.timings.sampling_ms > 0);
  // the sidecar reproduces the image through the library
  const p = await createPipeline({ bundleDir: TINY_BUNDLE, threads: 1, warmup: false });
  const again = await p.generate({ prompt: side.prompt, randomIdentity: 5, steps: 3, sampler: 'ddim', eta: 0.5, textScale: 2.5, faceScale: 1.5, seed: 41 });
  // (byte-identical on the dev machine; allow one 8-bit level in case a CPU's kernels depend on batch size)
  const [u, v] = await Promise.all([again.images[0].png, readFileSync(join(out, 'face0-41.png'))].map((b) => sharp(b).raw().toBuffer()));
  assert.equal(u.length, v.length);
  let maxDiff = 0;
  for (let i = 0; i < u.length; i++) maxDiff = Math.max(maxDiff, Math.abs(u[i] - v[i]));
  assert.ok(maxDiff <= 1, `regenerating image 1 alone from its seed gives the same image (max diff ${maxDiff})`);
  await p.close();
});

test('generate: bad input is one clear error', async () => {
  await assert.rejects(cli(['generate', '--bundle', TINY_BUNDLE, '--prompt', 'x', '--attr', 'Young', '-q']), /--attr expects NAME=AMOUNT/);
  await assert.rejects(cli(['generate', '--bundle', '/no/such/bundle', '--prompt', 'x', '-q']), /model bundle folder not found: \/no\/such\/bundle/);
});
