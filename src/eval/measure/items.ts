// Per-image figures of the identity measurement (S_gen term and top-1 hit of every image, face on and
// base), written to report.json so that two evals of different bundles on the same seed can be paired
// image by image (`face0 eval-compare`): the same people, photos and noise on both sides, so what is
// common to both (hard people, poor photos) cancels from the difference.
import { identifyTop1, sGenPerImage } from '../metrics.js';
import type { EvalContext, Net } from '../context.js';
import { embeddingsFor, SIDES, type IdentityGenerations, type Side } from './identity.js';

export interface IdentityItem {
  person: string;
  /** index into the person's photos of the photo the image was generated from */
  source: number;
  side: Side;
  /** the image's index among the person's images of this side */
  image: number;
  /** mean cosine to the person's other real photos, per network (null: no face found) */
  s_gen: Partial<Record<Net, number | null>>;
  /** identified as its own person among the evaluated people, per network */
  top1: Partial<Record<Net, boolean>>;
}

const round6 = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : Math.round(x * 1e6) / 1e6);

export function identityItems(ctx: EvalContext, gens: IdentityGenerations): IdentityItem[] {
  const items: IdentityItem[] = [];
  for (const side of SIDES) {
    const perNet = ctx.nets.map((net) => {
      const e = embeddingsFor(ctx.people, net, (p) => gens.get(p.id)![side]);
      return { net, sGen: e.map(sGenPerImage), hits: identifyTop1(e) };
    });
    let flat = 0; // identifyTop1 lists every person's images in order
    ctx.people.forEach((p, pi) => {
      gens.get(p.id)![side].forEach((_, k) => {
        const item: IdentityItem = { person: p.id, source: p.source, side, image: k, s_gen: {}, top1: {} };
        for (const { net, sGen, hits } of perNet) {
          item.s_gen[net] = round6(sGen[pi][k]);
          item.top1[net] = hits[flat].hit;
        }
        items.push(item);
        flat++;
      });
    });
  }
  return items;
}
