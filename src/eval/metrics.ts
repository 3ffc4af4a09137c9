// Identity metrics of DESIGN.md "Measuring it": S_same, S_diff, S_gen, gap closure G, face rate,
// and bootstrap confidence intervals over identities. Pure functions (no networks).
import { mulberry32 } from '../data/random.js';
import { cosine } from './verification.js';

/** One held-out person: embeddings of real photos (null = no face found) and of generations. */
export interface IdentityEmbeddings {
  id: string;
  real: (Float32Array | null)[];
  /** `source`: index into `real` of the photo the image was generated from. */
  gen: { source: number; embedding: Float32Array | null }[];
}

export interface IdentityMetrics {
  identities: number;
  s_same: number | null;
  s_diff: number | null;
  s_gen: number | null;
  /** null when undefined: no generated face was found, or S_same ≤ S_diff */
  G: number | null;
  face_rate: number | null;
  generated: number;
  generated_with_face: number;
}

export const mean = (xs: readonly number[]): number | null => (xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0) / xs.length);

/** G = (S_gen − S_diff) / (S_same − S_diff); null where it is undefined. */
export function gapClosure(sGen: number | null, sSame: number | null, sDiff: number | null): number | null {
  if (sGen === null || sSame === null || sDiff === null) return null;
  const den = sSame - sDiff;
  if (!(den > 1e-6)) return null;
  return (sGen - sDiff) / den;
}

/** Mean cosine over pairs of real photos of the same person (per-identity means averaged). */
export function sSame(people: readonly IdentityEmbeddings[]): number | null {
  const per: number[] = [];
  for (const p of people) {
    const r = p.real.filter((e): e is Float32Array => e !== null);
    const xs: number[] = [];
    for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) xs.push(cosine(r[i], r[j]));
    const m = mean(xs);
    if (m !== null) per.push(m);
  }
  return mean(per);
}

/** Mean cosine over real photos of different people (entries with the same id never pair). */
export function sDiff(people: readonly IdentityEmbeddings[]): number | null {
  const xs: number[] = [];
  for (let a = 0; a < people.length; a++) {
    for (let b = a + 1; b < people.length; b++) {
      if (people[a].id === people[b].id) continue;
      for (const ea of people[a].real) {
        if (!ea) continue;
        for (const eb of people[b].real) if (eb) xs.push(cosine(ea, eb));
      }
    }
  }
  return mean(xs);
}

/** Mean cosine between each generated image and the OTHER real photos of its person (never its source). */
export function sGen(people: readonly IdentityEmbeddings[]): number | null {
  const per: number[] = [];
  for (const p of people) {
    const xs: number[] = [];
    for (const g of p.gen) {
      if (!g.embedding) continue;
      p.real.forEach((r, i) => {
        if (r && i !== g.source) xs.push(cosine(g.embedding!, r));
      });
    }
    const m = mean(xs);
    if (m !== null) per.push(m);
  }
  return mean(per);
}

/** Per generated image: mean cosine to the OTHER real photos of its person (null: no face, or no other photo).
 *  A person's S_gen term is the mean of its images' values (every image has the same other photos). */
export function sGenPerImage(p: IdentityEmbeddings): (number | null)[] {
  return p.gen.map((g) => {
    if (!g.embedding) return null;
    const xs: number[] = [];
    p.real.forEach((r, i) => {
      if (r && i !== g.source) xs.push(cosine(g.embedding!, r));
    });
    return mean(xs);
  });
}

export function faceRate(people: readonly IdentityEmbeddings[]): { rate: number | null; total: number; found: number } {
  let total = 0, found = 0;
  for (const p of people) for (const g of p.gen) { total++; if (g.embedding) found++; }
  return { rate: total === 0 ? null : found / total, total, found };
}

export function identityMetrics(people: readonly IdentityEmbeddings[]): IdentityMetrics {
  const s_same = sSame(people), s_diff = sDiff(people), s_gen = sGen(people);
  const fr = faceRate(people);
  return { identities: people.length, s_same, s_diff, s_gen, G: gapClosure(s_gen, s_same, s_diff), face_rate: fr.rate, generated: fr.total, generated_with_face: fr.found };
}

export interface Interval { lo: number; hi: number; n: number }

/**
 * Percentile bootstrap over items (identities): resample with replacement B times, recompute the
 * statistic, and take the (α/2, 1−α/2) percentiles of the values that are defined. null when
 * fewer than 10 resamples give a value.
 */
export function bootstrapCI<T>(items: readonly T[], stat: (sample: T[]) => number | null, opts: { B?: number; seed?: number; alpha?: number } = {}): Interval | null {
  const B = opts.B ?? 1000, alpha = opts.alpha ?? 0.05;
  if (items.length === 0) return null;
  const rand = mulberry32(opts.seed ?? 0);
  const vals: number[] = [];
  for (let b = 0; b < B; b++) {
    const s: T[] = [];
    for (let i = 0; i < items.length; i++) s.push(items[Math.floor(rand() * items.length)]);
    const v = stat(s);
    if (v !== null && Number.isFinite(v)) vals.push(v);
  }
  return percentileInterval(vals, alpha);
}

/** The (α/2, 1−α/2) percentiles of bootstrap values (sorted in place); null when fewer than 10. */
export function percentileInterval(vals: number[], alpha = 0.05): Interval | null {
  if (vals.length < 10) return null;
  vals.sort((a, b) => a - b);
  const q = (p: number) => vals[Math.min(vals.length - 1, Math.max(0, Math.round(p * (vals.length - 1))))];
  return { lo: q(alpha / 2), hi: q(1 - alpha / 2), n: vals.length };
}

/** Bootstrap CI of G over identities (S_diff never pairs two draws of the same person). */
export function gapClosureCI(people: readonly IdentityEmbeddings[], opts: { B?: number; seed?: number } = {}): Interval | null {
  return bootstrapCI(people, (s) => gapClosure(sGen(s), sSame(s), sDiff(s)), opts);
}

/** Mean of per-item values with a bootstrap CI. */
export function meanWithCI(values: readonly number[], opts: { B?: number; seed?: number } = {}): { mean: number | null; ci: Interval | null; n: number } {
  return { mean: mean(values), ci: bootstrapCI(values, (s) => mean(s), opts), n: values.length };
}

/** Mean of the non-null embeddings, leaving out index `exclude`; null when none is left. */
export function centroid(embeddings: readonly (Float32Array | null)[], exclude = -1): Float32Array | null {
  const kept = embeddings.filter((e, i): e is Float32Array => e !== null && i !== exclude);
  if (kept.length === 0) return null;
  const sum = new Float32Array(kept[0].length);
  for (const e of kept) for (let d = 0; d < e.length; d++) sum[d] += e[d];
  for (let d = 0; d < sum.length; d++) sum[d] /= kept.length;
  return sum;
}

/** One generated image, closed-set identified among the people. */
export interface IdentifiedImage {
  /** index into `people` of the person it was generated from */
  person: number;
  /** index of the most similar centroid (a tie goes against the true person); null: no face, or no own centroid */
  predicted: number | null;
  hit: boolean;
}

/**
 * Top-1 identification of each generated image among the people: cosine to every person's
 * centroid of real-photo embeddings; its own person's centroid leaves out the source photo it
 * was generated from (else copying the source would count), the others use all their photos.
 * It only asks which person is nearest, so a low image quality that lowers every similarity alike
 * (and drags S_gen, hence G, down) does not move it.
 * No face (null embedding), or no other real photo of its own person: a miss.
 */
export function identifyTop1(people: readonly IdentityEmbeddings[]): IdentifiedImage[] {
  const all = people.map((p) => centroid(p.real));
  const out: IdentifiedImage[] = [];
  people.forEach((p, pi) => {
    for (const g of p.gen) {
      const own = centroid(p.real, g.source);
      if (!g.embedding || !own) { out.push({ person: pi, predicted: null, hit: false }); continue; }
      let predicted: number | null = pi, best = cosine(g.embedding, own);
      for (const [qi, c] of all.entries()) {
        if (qi === pi || !c) continue;
        const s = cosine(g.embedding, c);
        if (s > best || (s === best && predicted === pi)) { best = s; predicted = qi; }
      }
      // a zero-length own centroid gives NaN, which no other similarity beats: a miss, not a hit
      if (!Number.isFinite(best)) predicted = null;
      out.push({ person: pi, predicted, hit: predicted === pi });
    }
  });
  return out;
}

export interface Identification {
  /** share of generated images identified as their own person; null without images */
  top1: number | null;
  /** bootstrap CI over people (each draw takes all of a person's images; the gallery stays fixed) */
  ci: Interval | null;
  hits: number;
  n_images: number;
  n_people: number;
  /** 1 / n_people: the rate of a random guess */
  chance: number | null;
}

export function identification(people: readonly IdentityEmbeddings[], opts: { B?: number; seed?: number } = {}): Identification {
  const images = identifyTop1(people);
  const perPerson = people.map((_, pi) => images.filter((x) => x.person === pi));
  const rate = (groups: readonly IdentifiedImage[][]): number | null => {
    const xs = groups.flat();
    return xs.length === 0 ? null : xs.filter((x) => x.hit).length / xs.length;
  };
  const hits = images.filter((x) => x.hit).length;
  return {
    top1: rate(perPerson),
    ci: bootstrapCI(perPerson, rate, opts),
    hits,
    n_images: images.length,
    n_people: people.length,
    chance: people.length === 0 ? null : 1 / people.length,
  };
}
