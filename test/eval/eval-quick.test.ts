// End to end: `face0 eval --quick` on the tiny bundle with 2 people x 2 photos.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runEval } from '../../src/eval/run.js';
import { DEFAULT_ATTRIBUTE_MODEL_DIR as ATTR_MODEL } from '../../src/eval/attributes.js';
import { tinyCeleba } from './helpers.js';

const data = tinyCeleba(2, 2);
const BUNDLE = resolve(import.meta.dirname, '..', 'fixtures', 'tiny-bundle');

test('eval --quick on the tiny bundle writes report.md/report.json with every section', { skip: data ? false : 'no ../shared/data/celeba-subset', timeout: 60_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'face0-eval-out-'));
  const t0 = Date.now();
  await runEval({ bundleDir: BUNDLE, dataDir: data!.dir, quick: true, outDir: out, command: 'face0 eval --quick (test)' });
  assert.ok(Date.now() - t0 < 60_000);
  const r = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  for (const k of ['command', 'bundle', 'data', 'settings', 'networks', 'identity', 'identification', 'ceiling', 'judge_accuracy_real', 'prompt_fidelity', 'tradeoff', 'consistency', 'bias', 'speed']) assert.ok(k in r, k);
  assert.match(r.bundle.manifest_sha256, /^[0-9a-f]{64}$/);
  assert.ok(r.networks.eval, 'evaluation network present');
  for (const net of ['eval', 'cond']) for (const side of ['face', 'base']) {
    const m = r.identity[net][side];
    for (const k of ['s_same', 's_diff', 's_gen', 'G', 'face_rate']) assert.ok(k in m, `${net}.${side}.${k}`);
    assert.ok(m.s_same > m.s_diff);
  }
  assert.equal(r.data.identities.length, 2);
  // top-1 identification over the identity images: 2 people x 1 image per side in quick mode
  for (const net of ['eval', 'cond']) for (const side of ['face', 'base']) {
    const t = r.identification[net][side];
    assert.deepEqual(Object.keys(t).sort(), ['chance', 'ci', 'hits', 'n_images', 'n_people', 'top1'], `${net}.${side}`);
    assert.equal(t.n_people, 2);
    assert.equal(t.chance, 0.5);
    assert.equal(t.n_images, r.identity[net][side].generated);
    assert.ok(t.top1 >= 0 && t.top1 <= 1 && t.hits <= r.identity[net][side].generated_with_face);
  }
  // per-image items (for eval-compare) agree with the aggregates they come from
  for (const net of ['eval', 'cond']) for (const side of ['face', 'base']) {
    const its = r.items.identity.filter((x: { side: string }) => x.side === side);
    assert.equal(its.length, r.identity[net][side].generated, `${net}.${side} items`);
    assert.equal(its.filter((x: { top1: Record<string, boolean> }) => x.top1[net]).length, r.identification[net][side].hits, `${net}.${side} hits`);
    const perPerson = r.data.identities.map((id: string) => {
      const v = its.filter((x: { person: string; s_gen: Record<string, number | null> }) => x.person === id && x.s_gen[net] !== null).map((x: { s_gen: Record<string, number> }) => x.s_gen[net]);
      return v.length ? v.reduce((a: number, b: number) => a + b, 0) / v.length : null;
    }).filter((x: number | null) => x !== null);
    if (perPerson.length) assert.ok(Math.abs(perPerson.reduce((a: number, b: number) => a + b, 0) / perPerson.length - r.identity[net][side].s_gen) < 1e-4, `${net}.${side} s_gen`);
  }
  const rows = r.prompt_fidelity.per_prompt;
  const judged = rows.filter((p: { fidelity_face: number | null }) => p.fidelity_face !== null).reduce((s: number, p: { n: number }) => s + p.n, 0);
  assert.equal(r.items.fidelity.length, judged);
  // resolution ceiling: the reference photo itself, cropped like the training images at 64 and 128 px
  for (const net of ['eval', 'cond']) {
    assert.deepEqual(r.ceiling[net].map((c: { size: number }) => c.size), [64, 128], net);
    const big = r.ceiling[net][1];
    assert.equal(big.face_rate, 1, `${net}: a face is found in every 128-px crop of a real photo`);
    // compared with the person's other photos, not with itself (that would score near 1, above S_same)
    assert.ok(big.s_gen !== null && big.s_gen <= r.identity[net].face.s_same + 0.05, `${net}: ceiling S_gen ${big.s_gen} vs S_same ${r.identity[net].face.s_same}`);
  }
  // prompt fidelity: Smiling by face-api; Eyeglasses by the attribute classifier when models/attributes exists
  const smile = rows.find((p: { attribute: string }) => p.attribute === 'Smiling');
  assert.match(smile.classifier, /face-api/);
  const glasses = rows.find((p: { attribute: string }) => p.attribute === 'Eyeglasses');
  if (existsSync(join(ATTR_MODEL, 'attributes.onnx'))) {
    assert.match(glasses.classifier, /attribute classifier/);
    assert.ok(glasses.fidelity_face >= 0 && glasses.fidelity_face <= 1);
    assert.ok(r.classifier_accuracy_real && r.classifier_accuracy_real.Male.n > 0, 'classifier accuracy on the real photos');
    assert.ok(smile.classifier_fidelity_face !== null, 'classifier second opinion on Smiling');
  } else {
    assert.equal(glasses.classifier, null);
    assert.match(glasses.note, /no classifier/);
    assert.equal(r.classifier_accuracy_real, null);
  }
  assert.ok(r.tradeoff.length >= 2);
  assert.ok(r.speed.seconds_per_image_face.mean > 0 && r.speed.seconds_per_image_base.mean > 0);
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.ok(md.startsWith('# face0 eval report'));
  assert.ok(md.includes('face0 eval --quick (test)') && md.includes(r.bundle.manifest_sha256));
  assert.ok(md.includes('### Top-1 identification') && md.includes('### Resolution ceiling'));
  for (const f of ['grid.png', 'tradeoff.png']) assert.ok(existsSync(join(out, f)), f);
});
