// A ship rule: when does a trained candidate replace the default bundle? trainer/RECIPES.md writes one down
// before each sitting's results; kept as data (eval/ship-rule.json), the clauses that were committed are the
// clauses `face0 eval-compare DEFAULT CANDIDATE --rule FILE` checks, one by one, instead of by hand.
import type { Comparison } from './compare.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- reads report.json objects (their shape: measure/outputs.ts) */
type Report = any;

/** Every clause is optional; a rule names only the ones it has. Deltas are B (candidate) − A (default). */
export interface ShipRule {
  /** ΔG's 95 % lower bound (evaluation network, face on) at least this */
  G_lower_bound_min?: number;
  /** Δtop-1's 95 % lower bound at least this */
  top1_lower_bound_min?: number;
  /** Δfidelity's 95 % lower bound at least this */
  fidelity_lower_bound_min?: number;
  /** ΔG's point estimate strictly above this */
  G_point_above?: number;
  /** the candidate's G, mean of its seeds, at least this (a floor against slow drift) */
  G_mean_min?: number;
  /** the candidate's face rate, Face0 and base images of every seed together, at least this */
  face_rate_min?: number;
  /** seed 0: the candidate's G at least this */
  seed0_G_min?: number;
  /** seed 0: the candidate's G minus its base model's at least this */
  seed0_G_over_base_min?: number;
  /** seed 0: G's 95 % CIs of Face0 and base disjoint (Face0's above) */
  seed0_G_cis_disjoint?: boolean;
  /** seed 0: consistency same-seed CI above the across-seeds CI (random identities are characters) */
  seed0_consistency_cis_disjoint?: boolean;
}

const NUMBERS = ['G_lower_bound_min', 'top1_lower_bound_min', 'fidelity_lower_bound_min', 'G_point_above', 'G_mean_min',
  'face_rate_min', 'seed0_G_min', 'seed0_G_over_base_min'] as const;
const FLAGS = ['seed0_G_cis_disjoint', 'seed0_consistency_cis_disjoint'] as const;

/** A rule from its JSON; an unknown key or a wrong type is refused (a misspelt clause must not vanish silently).
 * Keys starting with "_" are comments. */
export function parseShipRule(json: unknown, source = 'ship rule'): ShipRule {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: a JSON object of clauses is needed`);
  const rule: ShipRule = {};
  for (const [k, v] of Object.entries(json)) {
    if (k.startsWith('_')) continue;
    if ((NUMBERS as readonly string[]).includes(k)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${source}: ${k} must be a number (got ${JSON.stringify(v)})`);
      rule[k as (typeof NUMBERS)[number]] = v;
    } else if ((FLAGS as readonly string[]).includes(k)) {
      if (typeof v !== 'boolean') throw new Error(`${source}: ${k} must be true or false (got ${JSON.stringify(v)})`);
      rule[k as (typeof FLAGS)[number]] = v;
    } else {
      throw new Error(`${source}: unknown clause "${k}" (known: ${[...NUMBERS, ...FLAGS].join(', ')})`);
    }
  }
  if (Object.keys(rule).length === 0) throw new Error(`${source}: no clauses`);
  return rule;
}

export interface Clause { clause: string; value: string; pass: boolean }
export interface ShipVerdict { clauses: Clause[]; ships: boolean }

const n4 = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : x.toFixed(4));
const atLeast = (x: number | null | undefined, min: number): boolean => x !== null && x !== undefined && x >= min;

/** Checks the rule on a comparison (A = the default, B = the candidate) and the candidate's own reports. */
export function checkShipRule(rule: ShipRule, c: Comparison, candidate: Report[]): ShipVerdict {
  const out: Clause[] = [];
  const add = (clause: string, value: string, pass: boolean) => out.push({ clause, value, pass });
  const g = c.G.eval?.face, t = c.top1.eval?.face;
  if (!g || !t) throw new Error('ship rule: the comparison has no evaluation-network figures');
  if (rule.G_lower_bound_min !== undefined) add(`ΔG lower bound ≥ ${rule.G_lower_bound_min}`, n4(g.ci?.lo), atLeast(g.ci?.lo, rule.G_lower_bound_min));
  if (rule.top1_lower_bound_min !== undefined) add(`Δtop-1 lower bound ≥ ${rule.top1_lower_bound_min}`, n4(t.ci?.lo), atLeast(t.ci?.lo, rule.top1_lower_bound_min));
  if (rule.fidelity_lower_bound_min !== undefined) add(`Δfidelity lower bound ≥ ${rule.fidelity_lower_bound_min}`, n4(c.fidelity.ci?.lo), atLeast(c.fidelity.ci?.lo, rule.fidelity_lower_bound_min));
  if (rule.G_point_above !== undefined) add(`ΔG point > ${rule.G_point_above}`, n4(g.delta), g.delta !== null && g.delta > rule.G_point_above);
  if (rule.G_mean_min !== undefined) add(`G, mean of seeds ≥ ${rule.G_mean_min}`, n4(g.b), atLeast(g.b, rule.G_mean_min));
  if (rule.face_rate_min !== undefined) {
    let faces = 0, images = 0;
    for (const r of candidate) for (const side of ['face', 'base']) {
      faces += r.identity.eval[side].generated_with_face;
      images += r.identity.eval[side].generated;
    }
    const rate = images ? faces / images : null;
    add(`face rate ≥ ${rule.face_rate_min} (Face0 and base, every seed)`, `${n4(rate)} (${faces}/${images})`, atLeast(rate, rule.face_rate_min));
  }
  const seed0Clauses = rule.seed0_G_min !== undefined || rule.seed0_G_over_base_min !== undefined || rule.seed0_G_cis_disjoint || rule.seed0_consistency_cis_disjoint;
  if (seed0Clauses) {
    const r0 = candidate.find((r) => r.settings.seed === 0);
    if (!r0) throw new Error('ship rule: it has seed-0 clauses, and the candidate was not evaluated on seed 0');
    const face = r0.identity.eval.face, base = r0.identity.eval.base;
    if (rule.seed0_G_min !== undefined) add(`seed 0: G ≥ ${rule.seed0_G_min}`, n4(face.G), atLeast(face.G, rule.seed0_G_min));
    if (rule.seed0_G_over_base_min !== undefined) {
      const gap = face.G === null || base.G === null ? null : face.G - base.G;
      add(`seed 0: G − G(base) ≥ ${rule.seed0_G_over_base_min}`, n4(gap), atLeast(gap, rule.seed0_G_over_base_min));
    }
    if (rule.seed0_G_cis_disjoint) {
      const lo = face.G_ci?.lo, hi = base.G_ci?.hi;
      add('seed 0: G CIs disjoint (Face0 lower > base upper)', `${n4(lo)} vs ${n4(hi)}`, lo !== undefined && hi !== undefined && lo > hi);
    }
    if (rule.seed0_consistency_cis_disjoint) {
      const k = r0.consistency?.eval;
      const lo = k?.same_seed_ci?.lo, hi = k?.across_seeds_ci?.hi;
      add('seed 0: consistency CIs disjoint (same seed lower > across upper)', k ? `${n4(lo)} vs ${n4(hi)}` : 'not in the report',
        lo !== undefined && hi !== undefined && lo > hi);
    }
  }
  return { clauses: out, ships: out.every((x) => x.pass) };
}

export function shipRuleMd(v: ShipVerdict, file: string): string {
  const L = [`## Ship rule (\`${file}\`): A is the default, B the candidate`, '', '| clause | B | |', '|---|---|---|'];
  for (const x of v.clauses) L.push(`| ${x.clause} | ${x.value} | ${x.pass ? 'pass' : '**FAIL**'} |`);
  L.push('', v.ships ? '**Ships**: every clause passes.' : `**Does not ship**: ${v.clauses.filter((x) => !x.pass).length} clause(s) fail.`, '');
  return L.join('\n');
}
