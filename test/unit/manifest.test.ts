import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, cpSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseManifest, ManifestError } from '../../src/model/manifest.js';
import { loadBundle, checkEmbedder } from '../../src/model/bundle.js';
import { validManifest, REQUIRED_FIELDS } from '../helpers/manifest.js';

test('the golden manifest is valid and keeps extra fields', () => {
  const m = validManifest();
  m.extra = { hello: 1 };
  const p = parseManifest(m) as any;
  assert.equal(p.name, 'face0-test');
  assert.deepEqual(p.extra, { hello: 1 });
});

for (const field of REQUIRED_FIELDS) {
  test(`missing ${field} gives an error naming it`, () => {
    const m = validManifest();
    const parts = field.split('.');
    let o = m;
    for (const k of parts.slice(0, -1)) o = o[k];
    delete o[parts.at(-1)!];
    assert.throws(() => parseManifest(m), (err: Error) => {
      assert.ok(err instanceof ManifestError);
      assert.ok(err.message.includes(`"${field}" is missing`), err.message);
      return true;
    });
  });
}

test('wrong values are reported with their field', () => {
  const cases: [(m: any) => void, RegExp][] = [
    [(m) => (m.format_version = 2), /format_version 2 is not supported/],
    [(m) => (m.prediction_type = 'x0'), /"prediction_type"/],
    [(m) => (m.files.unet.sha256 = 'xyz'), /"files\.unet\.sha256": must be 64 hex digits/],
    [(m) => m.schedule.betas.pop(), /"schedule\.betas": has 9 values but num_train_timesteps is 10/],
    [(m) => (m.identity.mean = [1, 2]), /"identity\.mean": has 2 values/],
    [(m) => (m.identity.directions.Young.vector = [1]), /"identity\.directions\.Young\.vector"/],
    [(m) => (m.text.face_tokens = 7), /"text\.face_tokens"/],
    [(m) => (m.defaults.sampler = 'plms'), /"defaults\.sampler"/],
    [(m) => (m.defaults.face_start = 0.995), /"defaults\.face_start"/], // past the pipeline's bound: refused at load, not at generate
    [(m) => (m.defaults.face_start_random = -0.1), /"defaults\.face_start_random"/],
    [(m) => (m.defaults.guidance_rescale = 1.5), /"defaults\.guidance_rescale"/],
    [(m) => (m.image.resolution = -8), /"image\.resolution"/],
  ];
  for (const [mutate, re] of cases) {
    const m = validManifest();
    mutate(m);
    assert.throws(() => parseManifest(m), re);
  }
});

function makeBundleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'face0-bundle-'));
  const m = validManifest();
  const files: Record<string, string> = {
    text_encoder: 'te-bytes', face_projector: 'fp-bytes', unet: 'unet-bytes',
    tokenizer: JSON.stringify({ type: 'word', version: 1, lowercase: true, pattern: '[a-z0-9]+|[^a-z0-9\\s]', vocab: ['<pad>', '<unk>', '<bos>', '<eos>', 'a'], pad_id: 0, unk_id: 1, bos_id: 2, eos_id: 3 }),
  };
  for (const [k, content] of Object.entries(files)) {
    writeFileSync(join(dir, m.files[k].path), content);
    m.files[k].sha256 = createHash('sha256').update(content).digest('hex');
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

test('loadBundle verifies sha256 and names the corrupt file', async () => {
  const dir = makeBundleDir();
  const b = await loadBundle(dir);
  assert.equal(b.manifest.name, 'face0-test');
  assert.equal(b.schedule.T, 10);
  writeFileSync(join(dir, 'unet.onnx'), 'tampered');
  await assert.rejects(loadBundle(dir), /unet\.onnx is corrupt or was changed: sha256 [0-9a-f]{64} does not match/);
  await loadBundle(dir, { verify: false }); // opt-out works
});

test('loadBundle: clear errors for missing folder, manifest, file, bad JSON', async () => {
  await assert.rejects(loadBundle('/nonexistent/bundle'), /model bundle folder not found/);
  const empty = mkdtempSync(join(tmpdir(), 'face0-empty-'));
  await assert.rejects(loadBundle(empty), /has no manifest\.json/);
  writeFileSync(join(empty, 'manifest.json'), '{nope');
  await assert.rejects(loadBundle(empty), /not valid JSON/);
  const dir = makeBundleDir();
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  m.files.unet.path = 'missing.onnx';
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(loadBundle(dir), /files\.unet\.path names missing\.onnx, which does not exist/);
  m.files.unet.path = '../escape.onnx';
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(loadBundle(dir), /must be inside the bundle/);
});

test('checkEmbedder refuses embeddings of another network', () => {
  const m = parseManifest(validManifest());
  checkEmbedder(m, 'test-embedder');
  assert.throws(() => checkEmbedder(m, 'other-net'), /made by "other-net" but bundle "face0-test" was trained on "test-embedder"/);
});
