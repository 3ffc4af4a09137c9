// `face0 eval-compare A B`: two evals of different bundles on the same seeds, paired image by image.
// Both evals drew the same people, the same photos and the same noise, so per-seed means compared
// side by side carry the people's spread twice (seed 0's G CI over people is about ±0.17), while the
// per-person difference cancels what both bundles share. The CI comes from a bootstrap over people,
// resampled within each seed (a person's images are not independent of each other).
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 } from '../data/random.js';
import { gapClosure, mean, percentileInterval } from './metrics.js';
import { fmt as f } from './report.js';
import type { IdentityItem } from './measure/items.js';
import type { FidelityItem } from './measure/fidelity.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- reads report.json objects (their shape: measure/outputs.ts) */
type Report = any;

export interface Delta {
  a: number | null;
  b: number | null;
  /** b − a on the full sample */
  delta: number | null;
  /** 95 % percentile bootstrap interval of b − a (people resampled within each seed) */
  ci: { lo: number; hi: number } | null;
}

export interface Comparison {
  seeds: number[];
  a: { path: string; bundle: string; unet_sha256: string | null };
  b: { path: string; bundle: string; unet_sha256: string | null };
  bootstrap: number;
  /** per network and side: G as the mean of the seeds' G, and the per-seed differences */
  G: Record<string, Record<'face' | 'base', Delta & { per_seed: (number | null)[] }>>;
  /** per network and side: top-1 rate over every seed's images */
  top1: Record<string, Record<'face' | 'base', Delta & { hits_a: number; hits_b: number; n: number }>>;
  /** prompt fidelity, face on, over every seed's judged images */
  fidelity: Delta & { hits_a: number; hits_b: number; n: number };
}

/** The reports of an eval folder: OUT/report.json (one seed) or OUT/seed-S/report.json (`--seeds`), by seed. */
export async function readEvalReports(path: string): Promise<Report[]> {
  const one = path.endsWith('.json') ? path : join(path, 'report.json');
  if (existsSync(one)) return [JSON.parse(await readFile(one, 'utf8'))];
  if (!existsSync(path)) throw new Error(`${path}: no such eval folder`);
  const dirs = (await readdir(path)).filter((d) => /^seed-\d+$/.test(d) && existsSync(join(path, d, 'report.json')));
  if (dirs.length === 0) throw new Error(`${path}: neither report.json nor seed-S/report.json (the output of face0 eval)`);
  const reports = await Promise.all(dirs.map(async (d) => JSON.parse(await readFile(join(path, d, 'report.json'), 'utf8'))));
  return reports.sort((x, y) => x.settings.seed - y.settings.seed);
}

interface PersonFigures { sGen: (number | null)[]; hits: number; n: number }

/** One seed's identity items of one side and network, grouped by person (in the report's people order). */
function byPerson(r: Report, net: string, side: 'face' | 'base'): PersonFigures[] {
  const items = r.items.identity as IdentityItem[];
  return (r.data.identities as string[]).map((id) => {
    const its = items.filter((x) => x.person === id && x.side === side);
    return { sGen: its.map((x) => x.s_gen[net as 'eval'] ?? null), hits: its.filter((x) => x.top1[net as 'eval']).length, n: its.length };
  });
}

/** A person's S_gen term: the mean of its images' values (null: no face in any). */
const personSGen = (p: PersonFigures): number | null => mean(p.sGen.filter((x): x is number => x !== null));

/** 95 % percentile interval without the draw count (the comparison reports the count once). */
function percentile(vals: number[]): { lo: number; hi: number } | null {
  const c = percentileInterval(vals);
  return c && { lo: c.lo, hi: c.hi };
}

/** Indices 0..n−1 drawn n times with replacement (one bootstrap draw of a seed's people), and all of them once. */
const resample = (n: number, rand: () => number): number[] => Array.from({ length: n }, () => Math.floor(rand() * n));
const everyone = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Checks that two seeds' reports can be paired: the same people, source photos and real-photo figures. */
function checkPairable(a: Report, b: Report, nets: string[]): void {
  const seed = a.settings.seed;
  for (const r of [a, b]) if (!r.items) throw new Error(`seed ${seed}: ${r.bundle?.dir ?? 'a report'} has no per-image items (written by face0 eval before they existed): evaluate it again`);
  if (JSON.stringify(a.data.identities) !== JSON.stringify(b.data.identities)) throw new Error(`seed ${seed}: the two evals drew different people (same --data, --holdout, --identities and --per-identity are needed)`);
  const sources = (r: Report) => JSON.stringify((r.items.identity as IdentityItem[]).map((x) => [x.person, x.source, x.side, x.image]));
  if (sources(a) !== sources(b)) throw new Error(`seed ${seed}: the identity images differ in people, source photos or count: not pairable`);
  for (const net of nets) {
    const [x, y] = [a.identity[net].face, b.identity[net].face];
    if (x.s_same !== y.s_same || x.s_diff !== y.s_diff) throw new Error(`seed ${seed}, ${net} network: the real photos score differently (S_same ${x.s_same} vs ${y.s_same}): not the same photos or judges`);
  }
}

/** Pairs two evals seed by seed and bootstraps the differences (B draws, seeded). */
export function compareEvals(aReports: Report[], bReports: Report[], o: { B?: number; seed?: number; aPath?: string; bPath?: string } = {}): Comparison {
  const B = o.B ?? 2000;
  const seedsOf = (rs: Report[]) => rs.map((r) => r.settings.seed as number);
  const seeds = seedsOf(aReports);
  if (seeds.length === 0) throw new Error('eval-compare: A has no reports');
  if (JSON.stringify(seeds) !== JSON.stringify(seedsOf(bReports))) throw new Error(`eval-compare: A has seeds ${seeds.join(',')}, B has ${seedsOf(bReports).join(',')}: evaluate both on the same seeds`);
  const nets = Object.keys(aReports[0].identity).filter((n) => n in bReports[0].identity);
  aReports.forEach((a, i) => checkPairable(a, bReports[i], nets));
  const rand = mulberry32(o.seed ?? 0);
  // one resample: for each seed, its people's indices drawn with replacement (the same draw serves every figure)
  const draws: number[][][] = [];
  for (let d = 0; d < B; d++) draws.push(aReports.map((r) => resample(r.data.identities.length, rand)));
  const full = aReports.map((r) => everyone(r.data.identities.length));

  const G: Comparison['G'] = {}, top1: Comparison['top1'] = {};
  for (const net of nets) {
    G[net] = {} as Comparison['G'][string];
    top1[net] = {} as Comparison['top1'][string];
    for (const side of ['face', 'base'] as const) {
      const per = aReports.map((a, i) => ({ a: byPerson(a, net, side), b: byPerson(bReports[i], net, side), sSame: a.identity[net].face.s_same as number, sDiff: a.identity[net].face.s_diff as number }));
      const gOf = (people: PersonFigures[], pick: number[], sSame: number, sDiff: number): number | null =>
        gapClosure(mean(pick.map((k) => personSGen(people[k])).filter((x): x is number => x !== null)), sSame, sDiff);
      const gMeans = (picks: number[][]) => {
        const ga = per.map((s, i) => gOf(s.a, picks[i], s.sSame, s.sDiff)), gb = per.map((s, i) => gOf(s.b, picks[i], s.sSame, s.sDiff));
        const ok = !ga.includes(null) && !gb.includes(null);
        return { ga, gb, a: ok ? mean(ga as number[]) : null, b: ok ? mean(gb as number[]) : null };
      };
      const point = gMeans(full);
      // the items must give back the report's own G (rounded there to 4 decimals, S_same/S_diff too)
      per.forEach((_, i) => {
        for (const [g, r] of [[point.ga[i], aReports[i]], [point.gb[i], bReports[i]]] as const) {
          const want = r.identity[net][side].G;
          if ((g === null) !== (want === null) || (g !== null && Math.abs(g - want) > 2e-3)) throw new Error(`seed ${seeds[i]}, ${net} ${side}: G from the items ${g} is not the report's ${want}`);
        }
      });
      const gDeltas: number[] = [];
      for (const pick of draws) { const m = gMeans(pick); if (m.a !== null && m.b !== null) gDeltas.push(m.b - m.a); }
      G[net][side] = {
        a: point.a, b: point.b, delta: point.a === null || point.b === null ? null : point.b - point.a, ci: percentile(gDeltas),
        per_seed: point.ga.map((x, i) => (x === null || point.gb[i] === null ? null : point.gb[i]! - x)),
      };
      const hitsOf = (picks: number[][], which: 'a' | 'b') => picks.reduce((s, pick, i) => s + pick.reduce((t, k) => t + per[i][which][k].hits, 0), 0);
      const nOf = (picks: number[][]) => picks.reduce((s, pick, i) => s + pick.reduce((t, k) => t + per[i].a[k].n, 0), 0);
      const n = nOf(full), ha = hitsOf(full, 'a'), hb = hitsOf(full, 'b');
      const tDeltas = draws.map((pick) => { const m = nOf(pick); return m === 0 ? NaN : (hitsOf(pick, 'b') - hitsOf(pick, 'a')) / m; }).filter(Number.isFinite);
      top1[net][side] = { a: n ? ha / n : null, b: n ? hb / n : null, delta: n ? (hb - ha) / n : null, ci: percentile(tDeltas), hits_a: ha, hits_b: hb, n };
    }
  }

  const fidelity = compareFidelity(aReports, bReports, B, (o.seed ?? 0) + 1);
  const side = (r: Report, path: string | undefined) => ({ path: path ?? r.bundle.dir, bundle: r.bundle.dir, unet_sha256: r.bundle.unet_sha256 ?? null });
  return {
    seeds, a: side(aReports[0], o.aPath), b: side(bReports[0], o.bPath), bootstrap: B, G, top1,
    fidelity,
  };
}

/** Prompt fidelity, face on: cells paired by (prompt, person); the fidelity people resampled within each seed. */
function compareFidelity(aReports: Report[], bReports: Report[], B: number, seed: number): Comparison['fidelity'] {
  const fid = aReports.map((a, i) => {
    const key = (x: FidelityItem) => `${x.prompt}\u0000${x.person}`;
    const bCells = new Map((bReports[i].items.fidelity as FidelityItem[]).map((x) => [key(x), x]));
    const people = [...new Set((a.items.fidelity as FidelityItem[]).map((x) => x.person))];
    const cells = (a.items.fidelity as FidelityItem[]).map((x) => {
      const y = bCells.get(key(x));
      if (!y) throw new Error(`seed ${a.settings.seed}: "${x.prompt}" for ${x.person} is judged in A but not in B (different prompt sets or classifiers)`);
      return { person: people.indexOf(x.person), a: x.face, b: y.face };
    });
    return { people: people.length, cells };
  });
  const fidSums = (picks: number[][]) => {
    let ha = 0, hb = 0, n = 0;
    picks.forEach((pick, i) => { for (const k of pick) for (const c of fid[i].cells) if (c.person === k) { ha += c.a; hb += c.b; n++; } });
    return { ha, hb, n };
  };
  const fidFull = fidSums(fid.map((s) => everyone(s.people)));
  const fidRand = mulberry32(seed);
  const fDeltas: number[] = [];
  for (let d = 0; d < B; d++) {
    const m = fidSums(fid.map((s) => resample(s.people, fidRand)));
    if (m.n > 0) fDeltas.push((m.hb - m.ha) / m.n);
  }
  const fn = fidFull.n;
  return { a: fn ? fidFull.ha / fn : null, b: fn ? fidFull.hb / fn : null, delta: fn ? (fidFull.hb - fidFull.ha) / fn : null, ci: percentile(fDeltas), hits_a: fidFull.ha, hits_b: fidFull.hb, n: fn };
}

const signed = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`);
const ci = (c: { lo: number; hi: number } | null): string => (c ? `[${signed(c.lo)}, ${signed(c.hi)}]` : '[n/a]');

export function comparisonMd(c: Comparison, command?: string): string {
  const netName = (n: string) => (n === 'eval' ? 'evaluation' : 'conditioning (inflated)');
  const L = ['# face0 eval-compare', ''];
  if (command) L.push('```', command, '```', '');
  L.push(`A: \`${c.a.path}\` (UNet ${c.a.unet_sha256?.slice(0, 12) ?? 'n/a'}); B: \`${c.b.path}\` (UNet ${c.b.unet_sha256?.slice(0, 12) ?? 'n/a'}).`,
    `Paired by seed, person and image over seeds ${c.seeds.join(', ')}; Δ = B − A with a 95 % percentile bootstrap over people, resampled within each seed (${c.bootstrap} draws).`, '');
  L.push('| network | side | G A | G B | ΔG [95 %] | ΔG per seed | top-1 A | top-1 B | Δtop-1 [95 %] |', '|---|---|---|---|---|---|---|---|---|');
  for (const net of Object.keys(c.G)) for (const side of ['face', 'base'] as const) {
    const g = c.G[net][side], t = c.top1[net][side];
    L.push(`| ${netName(net)} | ${side === 'face' ? 'Face0' : 'base model'} | ${f(g.a)} | ${f(g.b)} | ${signed(g.delta)} ${ci(g.ci)} | ${g.per_seed.map(signed).join(' / ')} | ${f(t.a)} (${t.hits_a}/${t.n}) | ${f(t.b)} (${t.hits_b}/${t.n}) | ${signed(t.delta)} ${ci(t.ci)} |`);
  }
  const fd = c.fidelity;
  L.push('', `Prompt fidelity (face on): A ${f(fd.a)} (${fd.hits_a}/${fd.n}), B ${f(fd.b)} (${fd.hits_b}/${fd.n}), Δ ${signed(fd.delta)} ${ci(fd.ci)}`, '');
  return L.join('\n');
}
