// Character consistency: one random identity (a seed, no reference photo) across prompts should
// stay one person; different seeds on the same prompt should not.
import type { ImageJudgement } from '../judges.js';
import { mean, meanWithCI } from '../metrics.js';
import { cosine } from '../verification.js';
import { round, roundCI, type EvalContext } from '../context.js';

export async function measureConsistency(ctx: EvalContext): Promise<Record<string, unknown>> {
  const { quick, seed, B, set, nets, faceScale, characters: cSeeds } = ctx;
  const cPrompts = quick ? set.consistency.slice(0, 2) : set.consistency;
  ctx.log(`consistency: ${cSeeds} random identities x ${cPrompts.length} prompts`);
  const cons: ImageJudgement[][] = [];
  for (let r = 0; r < cSeeds; r++) {
    const row: ImageJudgement[] = [];
    for (const [pi, q] of cPrompts.entries()) row.push((await ctx.gen({ randomIdentity: seed + 7000 + r, prompt: q, faceScale, seed: seed + 8000 + pi }))[0].j);
    cons.push(row);
  }
  const consistency: Record<string, unknown> = {};
  for (const net of nets) {
    const within: number[] = [], across: number[] = [];
    for (let r = 0; r < cons.length; r++) {
      const xs: number[] = [];
      for (let a = 0; a < cons[r].length; a++) for (let b = a + 1; b < cons[r].length; b++) {
        const ea = cons[r][a][net], eb = cons[r][b][net];
        if (ea && eb) xs.push(cosine(ea, eb));
      }
      const mm = mean(xs);
      if (mm !== null) within.push(mm);
      for (let r2 = r + 1; r2 < cons.length; r2++) for (let a = 0; a < cons[r].length; a++) {
        const ea = cons[r][a][net], eb = cons[r2][a][net];
        if (ea && eb) across.push(cosine(ea, eb));
      }
    }
    const w = meanWithCI(within, { B, seed }), x = meanWithCI(across, { B, seed });
    consistency[net] = { same_seed_across_prompts: round(w.mean), same_seed_ci: roundCI(w.ci), across_seeds_same_prompt: round(x.mean), across_seeds_ci: roundCI(x.ci), seeds: cons.length, prompts: cPrompts.length };
  }
  return consistency;
}
