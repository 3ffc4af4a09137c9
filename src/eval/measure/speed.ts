// Speed: summarises the timings of every generation this run made (face on = 3 UNet branches,
// base = 2), so it must run after the last generating measurement.
import { mean, meanWithCI } from '../metrics.js';
import { round, roundCI, type EvalContext } from '../context.js';

export function summarizeSpeed(ctx: EvalContext) {
  const { stats, B, seed } = ctx;
  const sp = (xs: number[]) => { const r = meanWithCI(xs.map((x) => x / 1000), { B, seed }); return { mean: round(r.mean), ci: roundCI(r.ci), n: r.n }; };
  return {
    seconds_per_image_face: sp(stats.face),
    seconds_per_image_base: sp(stats.base),
    seconds_per_unet_eval_face: sp(stats.faceEval),
    seconds_per_unet_eval_base: sp(stats.baseEval),
    ratio_face_over_base: round((mean(stats.face) ?? NaN) / (mean(stats.base) ?? NaN), 3),
    peak_rss_mb: Math.round(stats.maxRss / 2 ** 20),
    threads: ctx.pipe.sessions.threads,
    steps: ctx.steps,
    note: 'per-image time of a generate() call (includes sampling, text/face encoding, PNG); face on = 3 UNet branches, base = 2',
  };
}
