// `face0 eval --seeds 0,1,...`: the same eval once per seed (each seed draws other photos of the same
// people and other noise), then the figures pooled over the seeds. One seed's eval is small (80
// identity images, 36 prompt-fidelity images, 4 random identities), so a choice between two bundles
// made on one seed moves with the seed (seen: consistency of one bundle 0.60 on seed 0, 0.56 on seed 1).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import jstat from 'jstat';
import { mean } from './metrics.js';
import { fmt as f } from './report.js';
import { runEval, type EvalOptions } from './run.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- reads report.json objects (their shape: measure/outputs.ts) */
type Report = any;

export interface PooledRate {
  /** hits / n over every seed's images */
  rate: number | null;
  /** exact (Clopper-Pearson) 95 % interval. It treats images as independent; they are not (the same
   *  people recur), so it is narrower than a bootstrap over people would be. */
  ci: { lo: number; hi: number } | null;
  hits: number;
  n: number;
}

export interface PooledMean { mean: number | null; per_seed: (number | null)[] }

export interface PooledSection {
  seeds: number[];
  reports: string[];
  identity: Record<string, Record<'face' | 'base', { G: PooledMean; face_rate: PooledRate }>>;
  identification: Record<string, Record<'face' | 'base', PooledRate & { chance: number | null; p_above_chance: number | null }>>;
  prompt_fidelity_face_on: PooledRate;
  consistency: Record<string, { same_seed_across_prompts: PooledMean; across_seeds_same_prompt: PooledMean; seeds_where_same_above_across: number }>;
  seconds_per_image_face: PooledMean;
}

// a seed whose figure is undefined leaves the mean undefined (not a mean of the other seeds)
const pmean = (xs: (number | null)[]): PooledMean => {
  const perSeed = xs.map((x) => x ?? null);
  return { mean: perSeed.includes(null) ? null : mean(perSeed as number[]), per_seed: perSeed };
};

/** Exact (Clopper-Pearson) 1 − alpha interval of a binomial proportion, from beta quantiles. */
export function clopperPearson(hits: number, n: number, alpha = 0.05): { lo: number; hi: number } {
  const { beta } = jstat.jStat;
  return {
    lo: hits === 0 ? 0 : beta.inv(alpha / 2, hits, n - hits + 1),
    hi: hits === n ? 1 : beta.inv(1 - alpha / 2, hits + 1, n - hits),
  };
}

/** P(X ≥ hits) for X ~ Binomial(n, p): the one-sided p-value of "better than chance p". */
export function binomialPAbove(hits: number, n: number, p: number): number {
  return hits <= 0 ? 1 : Math.max(0, 1 - jstat.jStat.binomial.cdf(hits - 1, n, p));
}

/** Pooled rate of hits out of n, with its exact 95 % interval. */
export function pooledRate(hits: number, n: number): PooledRate {
  return n === 0 ? { rate: null, ci: null, hits, n } : { rate: hits / n, ci: clopperPearson(hits, n), hits, n };
}

/** Prompt fidelity's judged images of one report, as counts (the report keeps a rate and n per prompt). */
function fidelityCounts(r: Report): { hits: number; n: number } {
  let hits = 0, n = 0;
  for (const p of r.prompt_fidelity.per_prompt) {
    if (p.fidelity_face === null) continue;
    hits += Math.round(p.fidelity_face * p.n);
    n += p.n;
  }
  return { hits, n };
}

/** The figures of several seeds' reports pooled: counts summed where the figure is a rate, means otherwise. */
export function poolReports(reports: Report[], names: string[] = reports.map((_, i) => `report ${i}`)): PooledSection {
  if (reports.length === 0) throw new Error('poolReports: no reports');
  const nets = Object.keys(reports[0].identity);
  const sides = ['face', 'base'] as const;
  const identity: PooledSection['identity'] = {};
  const identification: PooledSection['identification'] = {};
  const consistency: PooledSection['consistency'] = {};
  for (const net of nets) {
    identity[net] = {} as PooledSection['identity'][string];
    identification[net] = {} as PooledSection['identification'][string];
    for (const side of sides) {
      const ids = reports.map((r) => r.identity[net][side]);
      identity[net][side] = {
        G: pmean(ids.map((m) => m.G)),
        face_rate: pooledRate(ids.reduce((s, m) => s + m.generated_with_face, 0), ids.reduce((s, m) => s + m.generated, 0)),
      };
      const tops = reports.map((r) => r.identification?.[net]?.[side]).filter((m) => m !== undefined);
      const chance: number | null = tops.length ? tops[0].chance : null;
      const hits = tops.reduce((s, m) => s + m.hits, 0), n = tops.reduce((s, m) => s + m.n_images, 0);
      identification[net][side] = { ...pooledRate(hits, n), chance, p_above_chance: chance === null || n === 0 ? null : binomialPAbove(hits, n, chance) };
    }
    const cs = reports.map((r) => r.consistency[net]).filter((c) => c !== undefined);
    consistency[net] = {
      same_seed_across_prompts: pmean(cs.map((c) => c.same_seed_across_prompts)),
      across_seeds_same_prompt: pmean(cs.map((c) => c.across_seeds_same_prompt)),
      seeds_where_same_above_across: cs.filter((c) => c.same_seed_across_prompts > c.across_seeds_same_prompt).length,
    };
  }
  const fid = reports.map(fidelityCounts);
  return {
    seeds: reports.map((r) => r.settings.seed),
    reports: names,
    identity,
    identification,
    prompt_fidelity_face_on: pooledRate(fid.reduce((s, c) => s + c.hits, 0), fid.reduce((s, c) => s + c.n, 0)),
    consistency,
    seconds_per_image_face: pmean(reports.map((r) => r.speed.seconds_per_image_face.mean)),
  };
}

const perSeed = (m: PooledMean): string => m.per_seed.map((x) => f(x)).join(' / ');
const pval = (x: number | null): string => (x === null ? 'n/a' : x < 1e-4 ? '< 0.0001' : x.toFixed(4));
const rate = (r: PooledRate): string => `${f(r.rate)} [${f(r.ci?.lo)}, ${f(r.ci?.hi)}] (${r.hits}/${r.n})`;

export function pooledMd(p: PooledSection, command?: string): string {
  const netName = (n: string) => (n === 'eval' ? 'evaluation' : 'conditioning (inflated)');
  const L = ['# face0 eval, pooled over seeds', ''];
  if (command) L.push('```', command, '```', '');
  L.push(`Seeds ${p.seeds.join(', ')}; each seed's full report: ${p.reports.map((r) => `\`${r}\``).join(', ')}.`,
    'Rates pool every seed\'s images (exact 95 % interval, images taken as independent: narrower than a bootstrap over people); G and consistency are means of the seeds\' figures (per seed after the mean).', '');
  L.push('| network | side | G mean (per seed) | top-1 pooled [95 %] (hits/n) | p vs chance | face rate pooled |', '|---|---|---|---|---|---|');
  for (const net of Object.keys(p.identity)) for (const side of ['face', 'base'] as const) {
    const id = p.identity[net][side], t = p.identification[net][side];
    L.push(`| ${netName(net)} | ${side === 'face' ? 'Face0' : 'base model'} | ${f(id.G.mean)} (${perSeed(id.G)}) | ${rate(t)} | ${pval(t.p_above_chance)} | ${rate(id.face_rate)} |`);
  }
  L.push('', `Prompt fidelity (face on), pooled: ${rate(p.prompt_fidelity_face_on)}`, '');
  L.push('| network | consistency same seed across prompts (per seed) | across seeds, same prompt (per seed) | seeds where same > across |', '|---|---|---|---|');
  for (const [net, c] of Object.entries(p.consistency)) L.push(`| ${netName(net)} | ${f(c.same_seed_across_prompts.mean)} (${perSeed(c.same_seed_across_prompts)}) | ${f(c.across_seeds_same_prompt.mean)} (${perSeed(c.across_seeds_same_prompt)}) | ${c.seeds_where_same_above_across} of ${p.seeds.length} |`);
  L.push('', `Seconds per image (face on), mean of seeds: ${f(p.seconds_per_image_face.mean)}`, '');
  return L.join('\n');
}

/** Runs the eval once per seed into OUT/seed-S, then writes OUT/pooled.json and OUT/pooled.md. */
export async function runEvalSeeds(o: EvalOptions, seeds: number[]): Promise<{ pooled: PooledSection; md: string; reports: Record<string, unknown>[] }> {
  if (seeds.length === 0) throw new Error('--seeds: give at least one seed');
  if (new Set(seeds).size !== seeds.length) throw new Error(`--seeds: a seed is repeated (${seeds.join(',')})`);
  const outDir = o.outDir ?? 'eval-out';
  await mkdir(outDir, { recursive: true });
  const reports: Record<string, unknown>[] = [];
  const names: string[] = [];
  for (const [i, seed] of seeds.entries()) {
    o.log?.(`seed ${seed} (${i + 1} of ${seeds.length})`);
    const dir = join(outDir, `seed-${seed}`);
    reports.push(await runEval({ ...o, seed, outDir: dir }));
    names.push(`seed-${seed}/report.json`);
  }
  const pooled = poolReports(reports, names);
  await writeFile(join(outDir, 'pooled.json'), JSON.stringify({ command: o.command ?? null, created: new Date().toISOString(), ...pooled }, null, 2) + '\n');
  const md = pooledMd(pooled, o.command);
  await writeFile(join(outDir, 'pooled.md'), md);
  return { pooled, md, reports };
}
