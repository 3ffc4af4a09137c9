// Top-1 identification: is each identity image nearest to its own person among the evaluated
// people? Reuses the identity measurement's images (no generation, so no other figure moves).
import { identification } from '../metrics.js';
import { round, roundCI, type EvalContext } from '../context.js';
import { embeddingsFor, SIDES, type IdentityGenerations, type Side } from './identity.js';

export interface IdentificationSide { top1: number | null; ci: ReturnType<typeof roundCI>; hits: number; n_images: number; n_people: number; chance: number | null }
export type IdentificationSection = Record<string, Record<Side, IdentificationSide>>;

export function measureIdentification(ctx: EvalContext, gens: IdentityGenerations): IdentificationSection {
  const out: IdentificationSection = {};
  for (const net of ctx.nets) {
    const res = {} as Record<Side, IdentificationSide>;
    for (const side of SIDES) {
      const r = identification(embeddingsFor(ctx.people, net, (p) => gens.get(p.id)![side]), { B: ctx.B, seed: ctx.seed });
      res[side] = { top1: round(r.top1, 3), ci: roundCI(r.ci), hits: r.hits, n_images: r.n_images, n_people: r.n_people, chance: round(r.chance, 3) };
    }
    out[net] = res;
  }
  return out;
}
