// `face0 eval --seeds`: pooling several seeds' reports (src/eval/pool.ts), and the whole path on the
// tiny bundle (one full report per seed, pooled counts equal to the sums of the seeds' counts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { binomialPAbove, clopperPearson, pooledMd, pooledRate, poolReports, runEvalSeeds } from '../../src/eval/pool.js';
import { runEval } from '../../src/eval/run.js';
import { seedList } from '../../src/cli/options.js';
import { tinyCeleba } from './helpers.js';

/** A report with just the fields pooling reads (the shape of measure/outputs.ts). */
function report(seed: number, o: { G: number; gen: number; withFace: number; hits: number; fid: [number | null, number][]; same: number; across: number; spi: number }) {
  const side = (G: number) => ({ G, generated: o.gen, generated_with_face: o.withFace });
  const top = (hits: number) => ({ top1: hits / o.gen, hits, n_images: o.gen, n_people: 20, chance: 0.05 });
  return {
    settings: { seed },
    identity: { eval: { face: side(o.G), base: side(-0.3) } },
    identification: { eval: { face: top(o.hits), base: top(1) } },
    prompt_fidelity: { per_prompt: o.fid.map(([f, n]) => ({ fidelity_face: f, n })) },
    consistency: { eval: { same_seed_across_prompts: o.same, across_seeds_same_prompt: o.across } },
    speed: { seconds_per_image_face: { mean: o.spi } },
  };
}

test('poolReports sums counts for rates and averages G and consistency', () => {
  const a = report(0, { G: 0.2, gen: 40, withFace: 38, hits: 18, fid: [[0.75, 4], [0.5, 4], [null, 4]], same: 0.6, across: 0.43, spi: 0.4 });
  const b = report(1, { G: 0.3, gen: 40, withFace: 40, hits: 22, fid: [[0.25, 4], [1, 4], [null, 4]], same: 0.56, across: 0.5, spi: 0.2 });
  const p = poolReports([a, b], ['s0', 's1']);
  assert.deepEqual(p.seeds, [0, 1]);
  assert.ok(Math.abs(p.identity.eval.face.G.mean! - 0.25) < 1e-12);
  assert.deepEqual(p.identity.eval.face.G.per_seed, [0.2, 0.3]);
  assert.equal(p.identity.eval.face.face_rate.hits, 78);
  assert.equal(p.identity.eval.face.face_rate.n, 80);
  const t = p.identification.eval.face;
  assert.equal(t.hits, 40);
  assert.equal(t.n, 80);
  assert.equal(t.rate, 0.5);
  assert.ok(t.ci!.lo < 0.5 && t.ci!.hi > 0.5 && t.ci!.lo > 0.35 && t.ci!.hi < 0.65, JSON.stringify(t.ci));
  assert.ok(t.p_above_chance! < 1e-10, 'half right among 20 people is far above chance');
  assert.ok(p.identification.eval.base.p_above_chance! > 0.5, '2 of 80 is not above chance 0.05');
  // the prompt without a judge (null) is left out: (3 + 2 + 1 + 4) of 16
  assert.equal(p.prompt_fidelity_face_on.hits, 10);
  assert.equal(p.prompt_fidelity_face_on.n, 16);
  assert.equal(p.consistency.eval.seeds_where_same_above_across, 2);
  assert.ok(Math.abs(p.consistency.eval.same_seed_across_prompts.mean! - 0.58) < 1e-12);
  assert.ok(Math.abs(p.seconds_per_image_face.mean! - 0.3) < 1e-12);
  const md = pooledMd(p, 'face0 eval --seeds 0,1');
  assert.ok(md.includes('0.250 (0.200 / 0.300)') && md.includes('(40/80)') && md.includes('(10/16)') && md.includes('2 of 2'), md);
});

test('a seed whose figure is undefined leaves the pooled mean undefined, not a mean of the rest', () => {
  const a = report(0, { G: 0.2, gen: 4, withFace: 0, hits: 0, fid: [], same: 0.5, across: 0.4, spi: 1 });
  const b = report(1, { G: 0.3, gen: 4, withFace: 4, hits: 2, fid: [], same: 0.5, across: 0.6, spi: 1 });
  (a.identity.eval.face as { G: number | null }).G = null;
  const p = poolReports([a, b]);
  assert.equal(p.identity.eval.face.G.mean, null);
  assert.equal(p.prompt_fidelity_face_on.rate, null);
  assert.equal(p.consistency.eval.seeds_where_same_above_across, 1);
  assert.throws(() => poolReports([]), /no reports/);
});

test('pooledRate: exact interval contains the rate; none without images', () => {
  const r = pooledRate(3, 36);
  assert.ok(r.ci!.lo < 3 / 36 && r.ci!.hi > 3 / 36 && r.ci!.lo >= 0);
  assert.equal(pooledRate(0, 0).rate, null);
  assert.equal(pooledRate(0, 10).ci!.lo, 0);
});

test('face0 eval refuses --seed with --seeds, and a bad list, before loading anything', () => {
  const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'face0.js');
  const run = (...a: string[]) => spawnSync(process.execPath, [bin, 'eval', '--data', 'nowhere', ...a], { encoding: 'utf8', timeout: 60_000 });
  const both = run('--seed', '1', '--seeds', '0,1');
  assert.notEqual(both.status, 0);
  assert.match(both.stderr, /--seeds <list>' cannot be used with option '--seed/);
  const bad = run('--seeds', '0,0');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /repeated/);
});

test('--seeds parsing', () => {
  assert.deepEqual(seedList('0,1, 2'), [0, 1, 2]);
  assert.throws(() => seedList('0,0'), /repeated/);
  assert.throws(() => seedList('0,x'), /non-negative integers/);
  assert.throws(() => seedList('-1'), /non-negative integers/);
});

const data = tinyCeleba(2, 2);
const BUNDLE = resolve(import.meta.dirname, '..', 'fixtures', 'tiny-bundle');

test('runEvalSeeds on the tiny bundle: a full report per seed, pooled counts = sums of the seeds\'', { skip: data ? false : 'no ../shared/data/celeba-subset', timeout: 240_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'face0-eval-seeds-'));
  const { pooled } = await runEvalSeeds({ bundleDir: BUNDLE, dataDir: data!.dir, quick: true, characters: 3, outDir: out, command: 'face0 eval --quick --characters 3 --seeds 3,5 (test)' }, [3, 5]);
  const reps = [3, 5].map((s) => JSON.parse(readFileSync(join(out, `seed-${s}`, 'report.json'), 'utf8')));
  assert.deepEqual(reps.map((r) => r.settings.seed), [3, 5]);
  // --characters reaches the consistency measurement (quick alone would draw 2)
  for (const r of reps) assert.equal(r.consistency.cond.seeds, 3);
  for (const net of ['eval', 'cond']) for (const side of ['face', 'base'] as const) {
    const t = pooled.identification[net][side];
    assert.equal(t.hits, reps[0].identification[net][side].hits + reps[1].identification[net][side].hits, `${net}.${side}`);
    assert.equal(t.n, reps[0].identification[net][side].n_images + reps[1].identification[net][side].n_images);
  }
  // one seed's pooled fidelity is that report's own overall figure
  for (const r of reps) {
    const one = poolReports([r]).prompt_fidelity_face_on;
    assert.equal(one.rate === null ? null : Math.round(one.rate * 1000) / 1000, r.prompt_fidelity.overall_face_on);
  }
  const j = JSON.parse(readFileSync(join(out, 'pooled.json'), 'utf8'));
  assert.deepEqual(j.seeds, [3, 5]);
  assert.equal(j.command, 'face0 eval --quick --characters 3 --seeds 3,5 (test)');
  assert.ok(existsSync(join(out, 'pooled.md')));
  await assert.rejects(runEvalSeeds({ bundleDir: BUNDLE, dataDir: data!.dir, quick: true, outDir: out }, [1, 1]), /repeated/);
  await assert.rejects(runEval({ bundleDir: BUNDLE, dataDir: data!.dir, quick: true, characters: 1, outDir: out }), /characters must be an integer of at least 2/);
});

test('clopperPearson and binomialPAbove match known values', () => {
  // R: binom.test(45, 80)$conf.int = 0.4469 0.6732; binom.test(0, 10)$conf.int[2] = 0.3085
  const a = clopperPearson(45, 80);
  assert.ok(Math.abs(a.lo - 0.4469) < 5e-4 && Math.abs(a.hi - 0.6732) < 5e-4, JSON.stringify(a));
  assert.ok(Math.abs(clopperPearson(0, 10).hi - 0.3085) < 5e-4);
  assert.equal(clopperPearson(10, 10).hi, 1);
  // P(X >= 1) for Binomial(2, 0.5) = 0.75; P(X >= 3) for Binomial(3, 0.5) = 0.125
  assert.ok(Math.abs(binomialPAbove(1, 2, 0.5) - 0.75) < 1e-12);
  assert.ok(Math.abs(binomialPAbove(3, 3, 0.5) - 0.125) < 1e-12);
  assert.equal(binomialPAbove(0, 5, 0.1), 1);
});
