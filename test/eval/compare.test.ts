// `face0 eval-compare`: two evals paired by seed, person and image (src/eval/compare.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareEvals, comparisonMd, readEvalReports } from '../../src/eval/compare.js';

const S_SAME = 0.6, S_DIFF = 0.4;

/** A report with the fields eval-compare reads; `sGen[p]` = the S_gen of person p's two images, face on. */
function report(seed: number, sGen: [number | null, number | null][], hits: [boolean, boolean][], fid: number[] = [1, 0, 1, 1]) {
  const ids = sGen.map((_, p) => `celeba:${p + 1}`);
  const identity: unknown[] = [];
  for (const side of ['face', 'base'] as const) sGen.forEach((pair, p) => pair.forEach((s, k) => {
    const v = side === 'face' ? s : 0.4;
    identity.push({ person: ids[p], source: 0, side, image: k, s_gen: { eval: v }, top1: { eval: side === 'face' ? hits[p][k] : false } });
  }));
  const personMean = (pair: (number | null)[]) => { const v = pair.filter((x): x is number => x !== null); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; };
  const means = sGen.map(personMean).filter((x): x is number => x !== null);
  const G = means.length ? (means.reduce((a, b) => a + b, 0) / means.length - S_DIFF) / (S_SAME - S_DIFF) : null;
  return {
    settings: { seed },
    bundle: { dir: `/bundles/${seed}`, unet_sha256: 'ab'.repeat(32) },
    data: { identities: ids },
    identity: { eval: { face: { s_same: S_SAME, s_diff: S_DIFF, G }, base: { s_same: S_SAME, s_diff: S_DIFF, G: 0 } } },
    items: {
      identity,
      fidelity: fid.map((face, i) => ({ prompt: `prompt ${i % 2}`, attribute: 'Smiling', person: ids[Math.floor(i / 2)], face, base: 0 })),
    },
  };
}

const people = (n: number, s: number): [number, number][] => Array.from({ length: n }, (_, p) => [s + 0.01 * p, s - 0.01 * p]);
const allHits = (n: number, h: boolean): [boolean, boolean][] => Array.from({ length: n }, () => [h, h]);

test('an eval against itself: every difference is exactly zero', () => {
  const a = [report(0, people(6, 0.5), allHits(6, true)), report(1, people(6, 0.45), allHits(6, false))];
  const c = compareEvals(a, a, { B: 200 });
  assert.deepEqual(c.seeds, [0, 1]);
  assert.equal(c.G.eval.face.delta, 0);
  assert.deepEqual(c.G.eval.face.ci, { lo: 0, hi: 0 });
  assert.equal(c.top1.eval.face.delta, 0);
  assert.equal(c.fidelity.delta, 0);
});

test('a constant rise of S_gen on every image is a ΔG of rise / (S_same − S_diff), with a CI on it', () => {
  const a = [report(0, people(8, 0.5), allHits(8, false))];
  const b = [report(0, people(8, 0.52), allHits(8, false))];
  const c = compareEvals(a, b, { B: 300 });
  assert.ok(Math.abs(c.G.eval.face.delta! - 0.1) < 1e-9, String(c.G.eval.face.delta));
  assert.ok(Math.abs(c.G.eval.face.ci!.lo - 0.1) < 1e-9 && Math.abs(c.G.eval.face.ci!.hi - 0.1) < 1e-9);
  assert.ok(Math.abs(c.G.eval.face.per_seed[0]! - 0.1) < 1e-9);
  assert.equal(c.G.eval.base.delta, 0);
  // reversed, the sign turns
  assert.ok(Math.abs(compareEvals(b, a, { B: 100 }).G.eval.face.delta! + 0.1) < 1e-9);
});

test('a difference on one person only has a CI that reaches zero; top-1 and fidelity are counted per image', () => {
  const sa = people(10, 0.5), sb = people(10, 0.5);
  sb[3] = [sb[3][0] + 0.1, sb[3][1] + 0.1];
  const ha = allHits(10, false), hb = allHits(10, false);
  hb[3] = [true, true];
  const c = compareEvals([report(0, sa, ha, [0, 0, 0, 0])], [report(0, sb, hb, [1, 0, 1, 0])], { B: 1000 });
  assert.ok(Math.abs(c.G.eval.face.delta! - 0.05) < 1e-9, String(c.G.eval.face.delta)); // 0.1 / 10 people / 0.2
  assert.ok(c.G.eval.face.ci!.lo === 0 && c.G.eval.face.ci!.hi > 0.05, JSON.stringify(c.G.eval.face.ci));
  assert.equal(c.top1.eval.face.hits_a, 0);
  assert.equal(c.top1.eval.face.hits_b, 2);
  assert.equal(c.top1.eval.face.n, 20);
  assert.ok(Math.abs(c.top1.eval.face.delta! - 0.1) < 1e-12);
  assert.equal(c.fidelity.hits_b, 2);
  assert.equal(c.fidelity.n, 4);
  const md = comparisonMd(c, 'face0 eval-compare a b');
  assert.ok(md.includes('+0.050 [+0.000') && md.includes('(2/20)') && md.includes('(2/4)'), md);
});

test('an image without a face leaves its person with the other image (as the eval counts S_gen)', () => {
  const sb = people(4, 0.5);
  sb[0] = [null, 0.6];
  const c = compareEvals([report(0, people(4, 0.5), allHits(4, false))], [report(0, sb, allHits(4, false))], { B: 100 });
  // person 0: 0.5 in A, 0.6 in B (its one face), so ΔS_gen = 0.1 / 4 people and ΔG = 0.025 / 0.2
  assert.ok(Math.abs(c.G.eval.face.delta! - 0.125) < 1e-9, String(c.G.eval.face.delta));
});

test('evals that cannot be paired are refused with the reason', () => {
  const a = [report(0, people(4, 0.5), allHits(4, false))];
  assert.throws(() => compareEvals(a, [report(1, people(4, 0.5), allHits(4, false))]), /same seeds/);
  assert.throws(() => compareEvals(a, [report(0, people(5, 0.5), allHits(5, false))]), /different people/);
  const noItems = { ...report(0, people(4, 0.5), allHits(4, false)), items: undefined };
  assert.throws(() => compareEvals(a, [noItems]), /no per-image items/);
  const otherPhotos = report(0, people(4, 0.5), allHits(4, false));
  otherPhotos.identity.eval.face.s_same = 0.61;
  assert.throws(() => compareEvals(a, [otherPhotos]), /real photos score differently/);
  const wrongG = report(0, people(4, 0.5), allHits(4, false));
  wrongG.identity.eval.face.G = 0.9;
  assert.throws(() => compareEvals(a, [wrongG]), /not the report's/);
});

test('readEvalReports reads one report.json or the seed-S folders of --seeds, in seed order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'face0-compare-'));
  for (const s of [2, 0]) {
    mkdirSync(join(dir, 'multi', `seed-${s}`), { recursive: true });
    writeFileSync(join(dir, 'multi', `seed-${s}`, 'report.json'), JSON.stringify(report(s, people(3, 0.5), allHits(3, true))));
  }
  assert.deepEqual((await readEvalReports(join(dir, 'multi'))).map((r) => r.settings.seed), [0, 2]);
  mkdirSync(join(dir, 'one'));
  writeFileSync(join(dir, 'one', 'report.json'), JSON.stringify(report(5, people(3, 0.5), allHits(3, true))));
  assert.equal((await readEvalReports(join(dir, 'one'))).length, 1);
  await assert.rejects(readEvalReports(join(dir, 'nothing')), /no such eval folder/);
  mkdirSync(join(dir, 'empty'));
  await assert.rejects(readEvalReports(join(dir, 'empty')), /neither report.json nor seed-S/);
});
