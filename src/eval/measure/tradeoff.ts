// Text / identity trade-off: G and prompt fidelity over a grid of face and text guidance scales.
import { JUDGED } from '../judges.js';
import { gapClosure, mean, sGen, type IdentityMetrics } from '../metrics.js';
import { round, sourceEmbedding, type EvalContext, type GenRecord, type Net } from '../context.js';
import { embeddingsFor } from './identity.js';

export interface TradeoffPoint { face_scale: number; text_scale: number; G: Record<string, number | null>; fidelity: number | null; face_rate: number | null }

/** `sameDiff`: the identity measurement's S_same / S_diff per network (real photos: the same at every scale). */
export async function measureTradeoff(ctx: EvalContext, sameDiff: Record<Net, IdentityMetrics>): Promise<TradeoffPoint[]> {
  const { people, quick, seed, set, nets, faceScale: dFace, textScale: dText } = ctx;
  const faceScales = quick ? [0, dFace] : [0, 1, dFace, 2 * dFace].filter((v, i, a) => a.indexOf(v) === i).sort((a, b) => a - b);
  const textScales = quick ? [dText] : [1.5, dText, 2 * dText].filter((v, i, a) => a.indexOf(v) === i).sort((a, b) => a - b);
  const gridPeople = people.slice(0, quick ? 2 : Math.min(3, people.length));
  const gridPrompts = set.prompts.filter((p) => p.attribute && JUDGED[p.attribute]).slice(0, quick ? 1 : 2);
  ctx.log(`trade-off grid: ${faceScales.length} face x ${textScales.length} text scales`);
  const tradeoff: TradeoffPoint[] = [];
  for (const fs of faceScales) {
    for (const ts of textScales) {
      const gens = new Map<string, GenRecord[]>();
      const hits: number[] = [], faces: number[] = [];
      for (const [k, p] of gridPeople.entries()) {
        const g = await ctx.gen({ embedding: sourceEmbedding(p), prompt: set.identity_prompt, faceScale: fs, textScale: ts, seed: seed + 5000 + k });
        gens.set(p.id, g);
        faces.push(g[0].j.face ? 1 : 0);
        for (const [qi, q] of gridPrompts.entries()) {
          const [f] = await ctx.gen({ embedding: sourceEmbedding(p), prompt: q.prompt, faceScale: fs, textScale: ts, seed: seed + 6000 + 10 * qi + k });
          hits.push(f.j.attrs && JUDGED[q.attribute!](f.j.attrs) ? 1 : 0);
          faces.push(f.j.face ? 1 : 0);
        }
      }
      const G: Record<string, number | null> = {};
      for (const net of nets) {
        const e = embeddingsFor(people, net, (p) => gens.get(p.id) ?? []).filter((x) => x.gen.length > 0);
        G[net] = round(gapClosure(sGen(e), sameDiff[net].s_same, sameDiff[net].s_diff), 3);
      }
      tradeoff.push({ face_scale: fs, text_scale: ts, G, fidelity: round(mean(hits), 3), face_rate: round(mean(faces), 3) });
    }
  }
  return tradeoff;
}
