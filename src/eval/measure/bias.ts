// Bias decoupling: on prompts that name no gender or age, do gender and age group follow the
// reference face (face on) rather than the base model's prior (face off)?
import { ageGroup } from '../judges.js';
import { mean, meanWithCI } from '../metrics.js';
import { round, roundCI, sourceEmbedding, type EvalContext } from '../context.js';

export async function measureBias(ctx: EvalContext) {
  const { people, quick, seed, B, set, faceScale } = ctx;
  const neutral = quick ? set.neutral.slice(0, 1) : set.neutral;
  ctx.log(`bias: ${neutral.length} neutral prompts x ${people.length} people, face on and off`);
  const bias = { gender_follow_face: [] as number[], gender_follow_base: [] as number[], age_follow_face: [] as number[], age_follow_base: [] as number[], base_male: [] as number[], face_male: [] as number[], ref_male: [] as number[] };
  for (const [k, p] of people.entries()) {
    const ref = p.judged[p.source].attrs;
    if (!ref) continue;
    bias.ref_male.push(ref.male ? 1 : 0);
    for (const [qi, q] of neutral.entries()) {
      const s = seed + 9000 + 10 * qi + k;
      const [f] = await ctx.gen({ embedding: sourceEmbedding(p), prompt: q, faceScale, seed: s });
      const [b] = await ctx.gen({ embedding: sourceEmbedding(p), prompt: q, faceScale: 0, seed: s });
      if (f.j.attrs) {
        bias.gender_follow_face.push(f.j.attrs.male === ref.male ? 1 : 0);
        bias.age_follow_face.push(ageGroup(f.j.attrs.age) === ageGroup(ref.age) ? 1 : 0);
        bias.face_male.push(f.j.attrs.male ? 1 : 0);
      }
      if (b.j.attrs) {
        bias.gender_follow_base.push(b.j.attrs.male === ref.male ? 1 : 0);
        bias.age_follow_base.push(ageGroup(b.j.attrs.age) === ageGroup(ref.age) ? 1 : 0);
        bias.base_male.push(b.j.attrs.male ? 1 : 0);
      }
    }
  }
  const mci = (xs: number[]) => { const r = meanWithCI(xs, { B, seed }); return { rate: round(r.mean, 3), ci: roundCI(r.ci), n: r.n }; };
  return {
    judge: 'face-api age/gender net (age groups <30, 30-45, 45+)',
    gender_follows_reference_face_on: mci(bias.gender_follow_face),
    gender_follows_reference_face_off: mci(bias.gender_follow_base),
    age_group_follows_reference_face_on: mci(bias.age_follow_face),
    age_group_follows_reference_face_off: mci(bias.age_follow_base),
    male_share_reference: round(mean(bias.ref_male), 3),
    male_share_face_on: round(mean(bias.face_male), 3),
    male_share_face_off: round(mean(bias.base_male), 3),
  };
}
