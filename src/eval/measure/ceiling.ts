// The resolution ceiling: what G and top-1 a perfect generator would score at a given image size.
// Its "generated" image is the reference photo itself, cropped exactly as `face0 augment` crops the
// training images (portrait framing, same size), then upscaled and judged like a generated image.
// At the bundle's size it is the reference for what a model of that size can reach on these people
// with these judges (not a strict bound: an image more typical of the person than the reference photo
// could score a little higher): a figure to read the model's G against, and to decide whether the
// project's G target needs a larger image rather than a better model. No generation.
import { alignFace, fitFraming, FRAMINGS } from '../../face/align.js';
import { encodePng } from '../../face/image.js';
import { bootstrapCI, gapClosure, identification, identityMetrics, sGen } from '../metrics.js';
import { Judges, type ImageJudgement } from '../judges.js';
import { round, roundCI, type EvalContext } from '../context.js';
import { embeddingsFor } from './identity.js';

export interface CeilingRow {
  size: number;
  G: number | null;
  G_ci: ReturnType<typeof roundCI>;
  s_gen: number | null;
  face_rate: number | null;
  top1: number | null;
  top1_ci: ReturnType<typeof roundCI>;
}
/** per network, one row per image size (the bundle's first) */
export type CeilingSection = Record<string, CeilingRow[]>;

/** The bundle's size and twice it (what doubling the resolution would allow), no larger than the detector's input. */
export function ceilingSizes(resolution: number, upscale = 256): number[] {
  return [...new Set([resolution, Math.min(2 * resolution, upscale)])];
}

export async function measureCeiling(ctx: EvalContext, sizes: readonly number[]): Promise<CeilingSection> {
  const { people, judges, nets, B, seed } = ctx;
  ctx.log(`resolution ceiling: ${people.length} reference photos at ${sizes.join(', ')} px`);
  const judged = new Map<string, Map<number, ImageJudgement>>();
  for (const p of people) {
    const img = await judges.decode(p.photos[p.source].path);
    // the same first face judge() used for the source photo's embedding
    const face = (await judges.analyzer.detect(img))[0];
    const bySize = new Map<number, ImageJudgement>();
    for (const size of sizes) {
      const framing = fitFraming(face.landmarks5, img.width, img.height, size, FRAMINGS.portrait);
      const png = await encodePng(alignFace(img, face.landmarks5, size, framing));
      bySize.set(size, await judges.judge(await Judges.upscale(png)));
    }
    judged.set(p.id, bySize);
  }
  const out: CeilingSection = {};
  for (const net of nets) {
    out[net] = sizes.map((size) => {
      // shaped like generations from the source photo: sGen leaves the source photo out, as for Face0
      const e = embeddingsFor(people, net, (p) => [{ j: judged.get(p.id)!.get(size)! }]);
      const mtr = identityMetrics(e);
      const id = identification(e, { B, seed });
      return {
        size,
        G: round(mtr.G),
        G_ci: roundCI(bootstrapCI(e, (s) => gapClosure(sGen(s), mtr.s_same, mtr.s_diff), { B, seed })),
        s_gen: round(mtr.s_gen),
        face_rate: round(mtr.face_rate, 3),
        top1: round(id.top1, 3),
        top1_ci: roundCI(id.ci),
      };
    });
  }
  return out;
}
