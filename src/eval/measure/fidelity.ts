// Prompt fidelity: does the image show the attribute the prompt asks for, face on and base? Its
// images also make the grid (reference photo | Face0 per prompt | base per prompt).
import { JUDGED } from '../judges.js';
import { bootstrapCI, mean } from '../metrics.js';
import { round, roundCI, sourceEmbedding, type EvalContext, type GenRecord, type Person } from '../context.js';

export interface GridRow { ref: Person; cells: { prompt: string; face: Buffer; base: Buffer }[] }
/** One judged image pair (report.json `items.fidelity`, for `face0 eval-compare`): 1 = the attribute was seen. */
export interface FidelityItem { prompt: string; attribute: string; person: string; face: number; base: number }

export async function measurePromptFidelity(ctx: EvalContext) {
  const { people, quick, seed, B, set, classifier, classifierError, faceScale } = ctx;
  const prompts = quick ? set.prompts.slice(0, 2) : set.prompts;
  const fidPeople = people.slice(0, quick ? 2 : Math.min(people.length, 4));
  ctx.log(`prompt fidelity: ${prompts.length} prompts x ${fidPeople.length} people, face on and base`);
  // judge per prompt: face-api's nets where they can (Smiling, Young/Old, Male/Female), the attribute
  // classifier for the rest; the classifier also scores the face-api attributes (second opinion)
  const judgeOf = (attr: string | null): 'face-api' | 'classifier' | null =>
    !attr ? null : JUDGED[attr] ? 'face-api' : classifier?.has(attr) ? 'classifier' : null;
  const fid: { prompt: string; attribute: string | null; judge: 'face-api' | 'classifier' | null; face: number[]; base: number[]; clsFace: number[]; clsBase: number[]; face_rate: number[] }[] = [];
  const grid: GridRow[] = fidPeople.map((p) => ({ ref: p, cells: [] }));
  const items: FidelityItem[] = [];
  for (const [pi, ps] of prompts.entries()) {
    const judge = judgeOf(ps.attribute);
    const attr = ps.attribute;
    const clsHas = !!(classifier && attr && classifier.has(attr));
    const row = { prompt: ps.prompt, attribute: attr, judge, face: [] as number[], base: [] as number[], clsFace: [] as number[], clsBase: [] as number[], face_rate: [] as number[] };
    // like the face-api rows, an image without a detected face counts as a miss (the classifier's
    // output on a non-face image means nothing)
    const byClassifier = (g: GenRecord) => (g.j.face && g.cls && classifier!.decide(g.cls, attr!) ? 1 : 0);
    for (const [k, p] of fidPeople.entries()) {
      const s = seed + 1000 + 10 * pi + k;
      const [f] = await ctx.gen({ embedding: sourceEmbedding(p), prompt: ps.prompt, faceScale, seed: s });
      const [b] = await ctx.gen({ embedding: sourceEmbedding(p), prompt: ps.prompt, faceScale: 0, seed: s });
      row.face_rate.push(f.j.face ? 1 : 0);
      if (judge === 'face-api') {
        const jf = JUDGED[attr!];
        row.face.push(f.j.attrs && jf(f.j.attrs) ? 1 : 0);
        row.base.push(b.j.attrs && jf(b.j.attrs) ? 1 : 0);
      } else if (judge === 'classifier') {
        row.face.push(byClassifier(f));
        row.base.push(byClassifier(b));
      }
      if (judge !== null) items.push({ prompt: ps.prompt, attribute: attr!, person: p.id, face: row.face[row.face.length - 1], base: row.base[row.base.length - 1] });
      if (clsHas) {
        row.clsFace.push(byClassifier(f));
        row.clsBase.push(byClassifier(b));
      }
      grid[k].cells.push({ prompt: ps.prompt, face: f.png, base: b.png });
    }
    fid.push(row);
  }
  const perPrompt = fid.map((r) => {
    const judged = r.judge !== null;
    const secondOpinion = r.judge === 'face-api' && r.clsFace.length > 0;
    return {
      prompt: r.prompt,
      attribute: r.attribute,
      classifier: r.judge === 'face-api' ? 'face-api age/gender + expression nets' : r.judge === 'classifier' ? 'attribute classifier (models/attributes)' : null,
      note: r.attribute && !judged ? (classifier ? `the attribute classifier has no output for ${r.attribute}` : `no classifier: attribute classifier unavailable (${classifierError})`) : null,
      fidelity_face: judged ? round(mean(r.face), 3) : null,
      fidelity_face_ci: judged ? roundCI(bootstrapCI(r.face, (s) => mean(s), { B, seed })) : null,
      fidelity_base: judged ? round(mean(r.base), 3) : null,
      classifier_fidelity_face: secondOpinion ? round(mean(r.clsFace), 3) : null,
      classifier_fidelity_base: secondOpinion ? round(mean(r.clsBase), 3) : null,
      face_rate: round(mean(r.face_rate), 3),
      n: r.face_rate.length,
    };
  });
  const judgedRows = fid.filter((r) => r.judge !== null);
  const overall = judgedRows.length ? round(mean(judgedRows.flatMap((r) => r.face)), 3) : null;
  return { section: { per_prompt: perPrompt, overall_face_on: overall, people: fidPeople.length }, grid, items };
}
