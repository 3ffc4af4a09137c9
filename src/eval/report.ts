// report.md from the report object (every figure also lives in report.json).
/* eslint-disable @typescript-eslint/no-explicit-any */
/** A figure for a report: d decimals, 'n/a' for a missing one. */
export const fmt = (x: unknown, d = 3): string => (x === null || x === undefined ? 'n/a' : typeof x === 'number' ? x.toFixed(d) : String(x));
const f = fmt;
const ci = (c: any): string => (c ? ` [${f(c.lo)}, ${f(c.hi)}]` : '');

export function writeReportMd(r: any): string {
  const L: string[] = [];
  L.push('# face0 eval report', '');
  L.push('```', r.command ?? '(library call)', '```', '');
  L.push(`- bundle: \`${r.bundle.dir}\` (${r.bundle.name}), manifest sha256 \`${r.bundle.manifest_sha256}\`, unet sha256 \`${r.bundle.unet_sha256}\``);
  L.push(`- data: \`${r.data.dir}\`${r.data.holdout ? `, held-out list \`${r.data.holdout}\`` : ' (all identities)'}; ${r.data.identities.length} people x ${r.data.per_identity} photos; real-photo face rate ${f(r.data.real_photo_face_rate)}`);
  L.push(`- settings: seed ${r.settings.seed}, steps ${r.settings.steps}, face scale ${r.settings.face_scale}, text scale ${r.settings.text_scale}${r.settings.face_start || r.settings.face_start_random ? `, face start ${r.settings.face_start} (random identities ${r.settings.face_start_random ?? r.settings.face_start})` : ''}${r.settings.guidance_rescale ? `, guidance rescale ${r.settings.guidance_rescale}` : ''}${r.settings.quick ? ', QUICK' : ''}; 95% bootstrap CIs over identities (B=${r.settings.bootstrap}); generated 64px images upscaled to ${r.settings.upscale_for_detection}px (lanczos) for detection`);
  L.push(`- evaluation network: ${r.networks.eval ? `\`${r.networks.eval.id}\` — ${r.networks.eval.credit}` : `**none available (${r.networks.eval_unavailable}); every identity figure below is from the CONDITIONING network only and is inflated**`}`);
  L.push(`- conditioning network: \`${r.networks.cond.id}\` (${r.networks.cond.note})`);
  L.push(`- attribute judge: ${r.networks.attribute_judge}`);
  const ac = r.networks.attribute_classifier;
  L.push(ac && !ac.unavailable
    ? `- attribute classifier: \`${ac.dir}\` (onnx sha256 \`${ac.onnx_sha256}\`), judges ${ac.judges.join(', ')}; ${ac.note}`
    : `- attribute classifier: **none (${ac?.unavailable ?? 'not configured'})** — eyeglasses, hat, hair colour, beard prompts are reported as "no classifier"`, '');
  L.push('## Identity', '', '| network | side | S_same | S_diff | S_gen | G [95% CI] | face rate | images |', '|---|---|---|---|---|---|---|---|');
  for (const net of Object.keys(r.identity)) {
    for (const side of ['face', 'base']) {
      const m = r.identity[net][side];
      L.push(`| ${net === 'eval' ? 'evaluation' : 'conditioning (inflated)'} | ${side === 'face' ? 'Face0' : 'base model (0 line)'} | ${f(m.s_same)} | ${f(m.s_diff)} | ${f(m.s_gen)}${ci(m.s_gen_ci)} | ${f(m.G)}${ci(m.G_ci)} | ${f(m.face_rate)} | ${m.generated} |`);
    }
  }
  L.push('', 'G = (S_gen − S_diff)/(S_same − S_diff); n/a = undefined (no generated face found, or S_same ≤ S_diff).', '');
  if (r.identification) {
    L.push('### Top-1 identification', '', '| network | side | top-1 [95% CI] | chance | images | people |', '|---|---|---|---|---|---|');
    for (const net of Object.keys(r.identification)) {
      for (const side of ['face', 'base']) {
        const m = r.identification[net][side];
        L.push(`| ${net === 'eval' ? 'evaluation' : 'conditioning (inflated)'} | ${side === 'face' ? 'Face0' : 'base model'} | ${f(m.top1)}${ci(m.ci)} | ${f(m.chance)} | ${m.n_images} | ${m.n_people} |`);
      }
    }
    L.push('', 'Each identity image is identified as the person whose real-photo centroid it is most similar to (cosine); its own person\'s centroid leaves out the photo it was generated from. No face = a miss. Needs no S_same/S_diff, so image quality that lowers every similarity alike does not move it.', '');
  }
  if (r.ceiling) {
    L.push('### Resolution ceiling', '', '| network | image size | G [95% CI] | top-1 [95% CI] | face rate |', '|---|---|---|---|---|');
    for (const net of Object.keys(r.ceiling)) for (const c of r.ceiling[net]) L.push(`| ${net === 'eval' ? 'evaluation' : 'conditioning (inflated)'} | ${c.size} px | ${f(c.G)}${ci(c.G_ci)} | ${f(c.top1)}${ci(c.top1_ci)} | ${f(c.face_rate)} |`);
    L.push('', 'A perfect generator at that size: each reference photo itself, cropped as `face0 augment` crops the training images, upscaled and judged like a generated image (same people, same figures as above). At the bundle\'s size: the reference for what a model of that size can score here (a redrawing of the reference photo; not a strict bound).', '');
  }
  L.push('## Prompt fidelity (face on)', '', '| prompt | attribute | judge | fidelity Face0 [CI] | fidelity base | classifier Face0 / base | face rate | n |', '|---|---|---|---|---|---|---|---|');
  for (const p of r.prompt_fidelity.per_prompt) {
    const judge = !p.classifier ? '-' : p.classifier.startsWith('face-api') ? 'face-api' : 'classifier';
    const second = p.classifier_fidelity_face !== null && p.classifier_fidelity_face !== undefined ? `${f(p.classifier_fidelity_face)} / ${f(p.classifier_fidelity_base)}` : '-';
    L.push(`| ${p.prompt} | ${p.attribute ?? '-'} | ${judge} | ${p.classifier ? f(p.fidelity_face) + ci(p.fidelity_face_ci) : 'no classifier'} | ${p.classifier ? f(p.fidelity_base) : '-'} | ${second} | ${f(p.face_rate)} | ${p.n} |`);
  }
  const notes = [...new Set(r.prompt_fidelity.per_prompt.map((p: any) => p.note).filter((x: unknown) => x))];
  if (notes.length) L.push('', ...notes.map((n) => `Note: ${n}.`));
  L.push('', 'Judges: face-api nets for Smiling, Young/Old, Male/Female; the attribute classifier (a separate CNN, not used in generation) for the rest — it reads the generated 64px image directly, an image without a detected face counts as a miss, and it gives a second opinion on the face-api attributes ("classifier" column). Beard = NOT No_Beard, Old = NOT Young.');
  L.push('', `Overall (judged prompts, face on): ${f(r.prompt_fidelity.overall_face_on)}.`, '');
  L.push('Judge accuracy on the real held-out photos (CelebA labels): ' + Object.entries(r.judge_accuracy_real).map(([k, v]: [string, any]) => `${k} ${f(v.accuracy)} (n=${v.n})`).join(', ') + '.', '');
  if (r.classifier_accuracy_real) {
    L.push('Attribute classifier on the same real held-out photos (people it never saw; few photos: read the n and positives) vs its own validation split:', '', '| attribute | accuracy (held-out) | balanced acc. (held-out) | positives / n | validation acc. | validation balanced acc. |', '|---|---|---|---|---|---|');
    const val = ac?.validation ?? {};
    for (const [k, v] of Object.entries(r.classifier_accuracy_real) as [string, any][]) L.push(`| ${k} | ${f(v.accuracy)} | ${f(v.balanced_accuracy)} | ${v.positives} / ${v.n} | ${f(val[k]?.accuracy)} | ${f(val[k]?.balanced_accuracy)} |`);
    L.push('');
  } else L.push('Attribute classifier accuracy on real held-out photos: n/a (no classifier).', '');
  L.push('## Text / identity trade-off', '', '| face scale | text scale | G (eval) | G (cond) | fidelity | face rate |', '|---|---|---|---|---|---|');
  for (const t of r.tradeoff) L.push(`| ${t.face_scale} | ${t.text_scale} | ${f(t.G.eval)} | ${f(t.G.cond)} | ${f(t.fidelity)} | ${f(t.face_rate)} |`);
  L.push('', '![trade-off](tradeoff.png)', '');
  const sizes = Object.values(r.consistency)[0] as { seeds?: number; prompts?: number } | undefined;
  L.push('## Character consistency (random identities)', '', ...(sizes?.seeds ? [`${sizes.seeds} random identities x ${sizes.prompts} prompts.`, ''] : []), '| network | same seed, across prompts [CI] | across seeds, same prompt [CI] |', '|---|---|---|');
  for (const [net, c] of Object.entries(r.consistency) as [string, any][]) L.push(`| ${net} | ${f(c.same_seed_across_prompts)}${ci(c.same_seed_ci)} | ${f(c.across_seeds_same_prompt)}${ci(c.across_seeds_ci)} |`);
  L.push('', '## Bias decoupling (prompts naming no gender or age)', '', `Judge: ${r.bias.judge}.`, '', '| | face on | face off (base) |', '|---|---|---|');
  const b = r.bias;
  L.push(`| gender follows the reference | ${f(b.gender_follows_reference_face_on.rate)}${ci(b.gender_follows_reference_face_on.ci)} (n=${b.gender_follows_reference_face_on.n}) | ${f(b.gender_follows_reference_face_off.rate)}${ci(b.gender_follows_reference_face_off.ci)} |`);
  L.push(`| age group follows the reference | ${f(b.age_group_follows_reference_face_on.rate)}${ci(b.age_group_follows_reference_face_on.ci)} | ${f(b.age_group_follows_reference_face_off.rate)}${ci(b.age_group_follows_reference_face_off.ci)} |`);
  L.push(`| male share (reference: ${f(b.male_share_reference)}) | ${f(b.male_share_face_on)} | ${f(b.male_share_face_off)} |`, '');
  const s = r.speed;
  L.push('## Speed (same run, same machine)', '', '| | Face0 | base |', '|---|---|---|');
  L.push(`| seconds / image | ${f(s.seconds_per_image_face.mean)}${ci(s.seconds_per_image_face.ci)} | ${f(s.seconds_per_image_base.mean)}${ci(s.seconds_per_image_base.ci)} |`);
  L.push(`| seconds / UNet eval | ${f(s.seconds_per_unet_eval_face.mean, 4)} | ${f(s.seconds_per_unet_eval_base.mean, 4)} |`);
  L.push('', `Face0/base time ratio ${f(s.ratio_face_over_base)}; peak RSS ${s.peak_rss_mb} MB; ${s.threads} threads; ${s.steps} steps. ${s.note}.`, '');
  L.push('## Images', '', 'Each row: reference photo | Face0 generation for each prompt (in the order of the fidelity table) | base model for the same prompts and seeds.', '', '![grid](grid.png)', '');
  L.push(`Run time ${f(r.seconds, 1)} s.`, '');
  return L.join('\n');
}
