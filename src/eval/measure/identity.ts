// Identity: S_same, S_diff, S_gen and gap closure G, Face0 (face on) against the base model (face
// off, same seeds: the zero line), per recognition network, with bootstrap CIs over people.
import { bootstrapCI, gapClosure, identityMetrics, sGen, type IdentityEmbeddings, type IdentityMetrics } from '../metrics.js';
import { round, roundCI, sourceEmbedding, type EvalContext, type GenRecord, type Net, type Person } from '../context.js';

export type Side = 'face' | 'base';
export const SIDES: readonly Side[] = ['face', 'base'];

/** The identity-prompt images generated from each person's source photo, face on and off. */
export type IdentityGenerations = Map<string, Record<Side, GenRecord[]>>;

export type IdentitySide = IdentityMetrics & { G_ci: unknown; s_gen_ci: unknown };
export type IdentitySection = Record<string, Record<Side, IdentitySide>>;

/** One network's embeddings of each person's real photos and of the given generations. */
export function embeddingsFor(people: readonly Person[], net: Net, which: (p: Person) => readonly Pick<GenRecord, 'j'>[]): IdentityEmbeddings[] {
  return people.map((p) => ({ id: p.id, real: p.judged.map((j) => j[net]), gen: which(p).map((g) => ({ source: p.source, embedding: g.j[net] })) }));
}

export async function measureIdentity(ctx: EvalContext): Promise<{ identity: IdentitySection; gens: IdentityGenerations; sameDiff: Record<Net, IdentityMetrics> }> {
  const { people, quick, seed, B, set, nets, faceScale } = ctx;
  const perGen = quick ? 1 : 2;
  ctx.log(`identity: ${people.length} people x ${perGen} images, face on and base`);
  const gens: IdentityGenerations = new Map();
  for (const [k, p] of people.entries()) {
    const s = seed + 100 * k;
    gens.set(p.id, {
      face: await ctx.gen({ embedding: sourceEmbedding(p), prompt: set.identity_prompt, faceScale, seed: s, count: perGen }),
      base: await ctx.gen({ embedding: sourceEmbedding(p), prompt: set.identity_prompt, faceScale: 0, seed: s, count: perGen }),
    });
  }
  const identity: IdentitySection = {};
  for (const net of nets) {
    const res = {} as Record<Side, IdentitySide>;
    for (const side of SIDES) {
      const e = embeddingsFor(people, net, (p) => gens.get(p.id)![side]);
      const mtr = identityMetrics(e);
      res[side] = {
        ...mtr,
        s_same: round(mtr.s_same), s_diff: round(mtr.s_diff), s_gen: round(mtr.s_gen), G: round(mtr.G), face_rate: round(mtr.face_rate, 3),
        G_ci: roundCI(bootstrapCI(e, (s) => gapClosure(sGen(s), mtr.s_same, mtr.s_diff), { B, seed })),
        s_gen_ci: roundCI(bootstrapCI(e, (s) => sGen(s), { B, seed })),
      };
    }
    identity[net] = res;
  }
  // S_same / S_diff (real photos only) are the trade-off grid's reference for G
  const sameDiff = Object.fromEntries(nets.map((net) => [net, identity[net].face])) as unknown as Record<Net, IdentityMetrics>;
  return { identity, gens, sameDiff };
}
