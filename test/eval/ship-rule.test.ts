// The ship rule checked clause by clause (src/eval/ship-rule.ts): `face0 eval-compare A B --rule FILE`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Comparison } from '../../src/eval/compare.js';
import { checkShipRule, parseShipRule, shipRuleMd } from '../../src/eval/ship-rule.js';

/** A comparison with the figures the rule reads (B = the candidate). */
function comparison(o: { gLo?: number; gDelta?: number; gB?: number; tLo?: number; fLo?: number } = {}): Comparison {
  const d = (lo: number, delta: number, b: number) => ({ a: b - delta, b, delta, ci: { lo, hi: delta + 0.02 } });
  return {
    seeds: [0, 1, 2],
    a: { path: 'a', bundle: 'a', unet_sha256: null },
    b: { path: 'b', bundle: 'b', unet_sha256: null },
    bootstrap: 100,
    G: { eval: { face: { ...d(o.gLo ?? -0.013, o.gDelta ?? 0.005, o.gB ?? 0.604), per_seed: [0, 0, 0] }, base: { ...d(0, 0, 0), per_seed: [0, 0, 0] } } },
    top1: { eval: { face: { ...d(o.tLo ?? -0.075, -0.017, 0.725), hits_a: 89, hits_b: 87, n: 120 }, base: { ...d(0, 0, 0.03), hits_a: 4, hits_b: 4, n: 120 } } },
    fidelity: { ...d(o.fLo ?? -0.009, 0.037, 0.676), hits_a: 69, hits_b: 73, n: 108 },
  };
}

/** The candidate's report of one seed, with the fields the rule reads. */
function report(seed: number, o: { G?: number; baseG?: number; faceLo?: number; baseHi?: number; faces?: number; same?: number; across?: number; characters?: boolean } = {}) {
  return {
    settings: { seed },
    identity: {
      eval: {
        face: { G: o.G ?? 0.569, G_ci: { lo: o.faceLo ?? 0.408, hi: 0.72 }, generated: 40, generated_with_face: o.faces ?? 40 },
        base: { G: o.baseG ?? 0.001, G_ci: { lo: -0.08, hi: o.baseHi ?? 0.083 }, generated: 40, generated_with_face: 40 },
      },
    },
    ...(o.characters === false ? {} : {
      consistency: { eval: { same_seed_ci: { lo: o.same ?? 0.493, hi: 0.55 }, across_seeds_ci: { lo: 0.40, hi: o.across ?? 0.439 } } },
    }),
  };
}

// Sitting 23's non-inferiority rule as a fixture: each sitting commits its own eval/ship-rule.json
// before its results, so the checker's tests must not move with it (the file is checked to parse below)
const RULE = parseShipRule({
  G_lower_bound_min: -0.03, top1_lower_bound_min: -0.10, fidelity_lower_bound_min: -0.08, G_mean_min: 0.590,
  face_rate_min: 0.90, seed0_G_min: 0.30, seed0_G_over_base_min: 0.30, seed0_G_cis_disjoint: true,
  seed0_consistency_cis_disjoint: true,
});
const candidate = () => [report(0), report(1), report(2)];

test('the committed rule file parses and checks every clause it names', () => {
  const raw = JSON.parse(readFileSync(new URL('../../eval/ship-rule.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const committed = parseShipRule(raw, 'eval/ship-rule.json');
  const v = checkShipRule(committed, comparison(), candidate());
  // one table row per key (`_` keys are comments)
  const keys = Object.keys(raw).filter((k) => !k.startsWith('_'));
  assert.equal(v.clauses.length, keys.length);
});

test('a non-inferiority rule: a candidate level with the default, within every margin, ships', () => {
  const v = checkShipRule(RULE, comparison(), candidate());
  assert.equal(v.clauses.length, 9);
  assert.ok(v.ships, JSON.stringify(v.clauses));
  assert.match(shipRuleMd(v, 'eval/ship-rule.json'), /\*\*Ships\*\*/);
});

test('each clause fails on its own figure, and one failing clause stops the candidate', () => {
  const fails = (c: Comparison, reports: ReturnType<typeof candidate>, which: RegExp) => {
    const v = checkShipRule(RULE, c, reports);
    assert.equal(v.ships, false);
    const failed = v.clauses.filter((x) => !x.pass).map((x) => x.clause);
    assert.equal(failed.length, 1, failed.join('; '));
    assert.match(failed[0], which);
    assert.match(shipRuleMd(v, 'r.json'), /\*\*FAIL\*\*[\s\S]*Does not ship/);
  };
  fails(comparison({ gLo: -0.031 }), candidate(), /ΔG lower bound/);
  fails(comparison({ tLo: -0.1001 }), candidate(), /Δtop-1 lower bound/);
  fails(comparison({ fLo: -0.09 }), candidate(), /Δfidelity/);
  fails(comparison({ gB: 0.5899 }), candidate(), /mean of seeds/);
  fails(comparison(), [report(0), report(1, { faces: 10 }), report(2)], /face rate/);   // (40+40 + 10+40 + 40+40) / 240 = 0.875
  fails(comparison(), [report(0, { G: 0.29, baseG: -0.2 }), report(1), report(2)], /seed 0: G ≥/);
  fails(comparison(), [report(0, { baseG: 0.3 }), report(1), report(2)], /G − G\(base\)/);
  fails(comparison(), [report(0, { faceLo: 0.08 }), report(1), report(2)], /G CIs disjoint/);
  fails(comparison(), [report(0, { same: 0.43 }), report(1), report(2)], /consistency/);
  fails(comparison(), [report(0, { characters: false }), report(1), report(2)], /consistency/);
  // the clauses read seed 0, not the first report
  assert.ok(checkShipRule(RULE, comparison(), [report(1, { G: 0.1 }), report(0)]).ships);
});

test('the margins are inclusive; a point-estimate clause is strict', () => {
  assert.ok(checkShipRule(RULE, comparison({ tLo: -0.1, gLo: -0.03, fLo: -0.08, gB: 0.59 }), candidate()).ships);
  const strict = parseShipRule({ G_point_above: 0 });
  assert.equal(checkShipRule(strict, comparison({ gDelta: 0 }), candidate()).ships, false);
  assert.equal(checkShipRule(strict, comparison({ gDelta: 1e-9 }), candidate()).ships, true);
});

test('a rule file that is not a rule is refused, with the reason', () => {
  assert.throws(() => parseShipRule({ G_lower_bound_minimum: -0.03 }), /unknown clause "G_lower_bound_minimum"/);
  assert.throws(() => parseShipRule({ G_mean_min: '0.59' }), /must be a number/);
  assert.throws(() => parseShipRule({ seed0_G_cis_disjoint: 1 }), /true or false/);
  assert.throws(() => parseShipRule({ _what: 'only a comment' }), /no clauses/);
  assert.throws(() => parseShipRule([1]), /JSON object/);
  assert.throws(() => checkShipRule(RULE, comparison(), [report(1), report(2)]), /not evaluated on seed 0/);
});
