// Held-out people: whole identities drawn by seed from the sources that know identities, so every
// machine of a split run (and every rerun) holds out the same people.
import { mulberry32, shuffled } from '../random.js';

export function chooseHoldout(identities: readonly string[], count: number, seed: number): string[] {
  if (count < 0) throw new Error('--holdout-identities must be ≥ 0');
  const distinct = [...new Set(identities)].sort();
  if (count > distinct.length) throw new Error(`--holdout-identities ${count}: only ${distinct.length} identities known`);
  return shuffled(distinct, mulberry32(seed ^ 0x5eed)).slice(0, count).sort();
}

export const holdoutTag = (source: string, identity: string): string => `${source}:${identity}`;
