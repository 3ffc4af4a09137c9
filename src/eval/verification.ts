// Face verification: are two photos the same person? Accuracy at the best cosine threshold,
// and k-fold accuracy (threshold chosen on k−1 folds, scored on the held-out fold).
import { mulberry32 } from '../data/random.js';

export interface ScoredPair { score: number; same: boolean }

export { cosine } from '../identity/vec.js';

/** Best accuracy over all thresholds (pairs with score ≥ t are called "same"). */
export function bestThreshold(pairs: readonly ScoredPair[]): { threshold: number; accuracy: number } {
  if (pairs.length === 0) throw new Error('bestThreshold: no pairs');
  const sorted = [...pairs].sort((p, q) => p.score - q.score);
  const positives = pairs.filter((p) => p.same).length;
  // threshold below everything: all called same
  let correct = positives;
  let best = { threshold: sorted[0].score - 1e-6, accuracy: correct / pairs.length };
  for (let i = 0; i < sorted.length; i++) {
    correct += sorted[i].same ? -1 : 1; // sorted[i] now called "different"
    if (i + 1 < sorted.length && sorted[i + 1].score === sorted[i].score) continue;
    const threshold = i + 1 < sorted.length ? (sorted[i].score + sorted[i + 1].score) / 2 : sorted[i].score + 1e-6;
    if (correct / pairs.length > best.accuracy) best = { threshold, accuracy: correct / pairs.length };
  }
  return best;
}

export function kFoldAccuracy(pairs: readonly ScoredPair[], k = 10, seed = 0): number {
  const rand = mulberry32(seed);
  const order = pairs.map((p) => ({ p, r: rand() })).sort((a, b) => a.r - b.r).map((x) => x.p);
  let correct = 0;
  for (let f = 0; f < k; f++) {
    const test = order.filter((_, i) => i % k === f);
    const train = order.filter((_, i) => i % k !== f);
    if (test.length === 0 || train.length === 0) continue;
    const { threshold } = bestThreshold(train);
    correct += test.filter((p) => (p.score >= threshold) === p.same).length;
  }
  return correct / pairs.length;
}

/** Same-person pairs (all within each identity) and as many seeded different-person pairs. */
export function makePairs<T>(groups: Map<string, T[]>, seed = 0): { a: T; b: T; same: boolean }[] {
  const rand = mulberry32(seed);
  const out: { a: T; b: T; same: boolean }[] = [];
  for (const items of groups.values()) {
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) out.push({ a: items[i], b: items[j], same: true });
  }
  const ids = [...groups.keys()];
  const nSame = out.length;
  if (ids.length < 2) throw new Error('makePairs: need at least two identities');
  for (let n = 0; n < nSame; n++) {
    const i = Math.floor(rand() * ids.length);
    let j = Math.floor(rand() * (ids.length - 1));
    if (j >= i) j++;
    const ga = groups.get(ids[i])!, gb = groups.get(ids[j])!;
    out.push({ a: ga[Math.floor(rand() * ga.length)], b: gb[Math.floor(rand() * gb.length)], same: false });
  }
  return out;
}
