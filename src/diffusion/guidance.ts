// Face0 guidance (docs/CONTRACTS.md §4), as pure functions.
//
//   ε̂ = ε(∅,∅) + s_text·(ε(text,∅) − ε(∅,∅)) + s_face·(ε(text,face) − ε(text,∅))
//
// It is linear, so it is written as a weighted sum over "branches" (context variants run in one
// batched UNet call):  ε̂ = Σ_b w_b·ε_b. Applied to the raw prediction (v or ε alike).
//   mode 'text+face' (face, s_face ≠ 0):  uncond (1 − s_text), text (s_text − s_face), text_face (s_face)
//   mode 'text'      (no face or s_face = 0, i.e. the base model's CFG): uncond (1 − s_text), text (s_text)
//   mode 'face'      (face with an empty prompt: ε(text,∅) = ε(∅,∅), so the formula reduces to)
//                                         uncond (1 − s_face), face (s_face)
//   mode 'uncond'    (no face, empty prompt): uncond (1)
//   mode 'joint'     (face and text with s_text = s_face: the text branch's weight is exactly 0)
//                                         uncond (1 − s), text_face (s) — the base model's cost

export type Branch = 'uncond' | 'text' | 'text_face' | 'face';
export type GuidanceMode = 'text+face' | 'joint' | 'text' | 'face' | 'uncond';

export interface GuidancePlan {
  mode: GuidanceMode;
  branches: Branch[];
  weights: number[];
}

export interface GuidanceInput {
  hasText: boolean;
  hasFace: boolean;
  textScale: number;
  faceScale: number;
}

export function planGuidance({ hasText, hasFace, textScale, faceScale }: GuidanceInput): GuidancePlan {
  if (!Number.isFinite(textScale)) throw new Error(`text scale must be a finite number, got ${textScale}`);
  if (!Number.isFinite(faceScale)) throw new Error(`face scale must be a finite number, got ${faceScale}`);
  if (hasFace && faceScale !== 0) {
    if (hasText && textScale === faceScale) return { mode: 'joint', branches: ['uncond', 'text_face'], weights: [1 - faceScale, faceScale] };
    if (hasText) return { mode: 'text+face', branches: ['uncond', 'text', 'text_face'], weights: [1 - textScale, textScale - faceScale, faceScale] };
    return { mode: 'face', branches: ['uncond', 'face'], weights: [1 - faceScale, faceScale] };
  }
  if (hasText) return { mode: 'text', branches: ['uncond', 'text'], weights: [1 - textScale, textScale] };
  return { mode: 'uncond', branches: ['uncond'], weights: [1] };
}

/** The largest face start: the one bound the manifest, the pipeline and the HTTP schema check against. */
export const MAX_FACE_START = 0.99;

/**
 * The first sampling step (0-based) that uses the face, for a face start of `fraction` of `steps`
 * (the noisiest steps before it follow the text-only plan). 0: every step has the face, as in the
 * formula above; also 0 when the plan has no face branch. Never past the last step. `fraction` in
 * [0, MAX_FACE_START] is the caller's to check (the pipeline does, with its other options).
 */
export function faceStartStep(fraction: number, steps: number, plan: GuidancePlan): number {
  if (!plan.branches.some((b) => b === 'text_face' || b === 'face')) return 0;
  return Math.min(steps - 1, Math.round(fraction * steps));
}

/** The formula term by term, for one value of each branch (reference for tests and docs). */
export function threeWay(epsUncond: number, epsText: number, epsTextFace: number, textScale: number, faceScale: number): number {
  return epsUncond + textScale * (epsText - epsUncond) + faceScale * (epsTextFace - epsText);
}

/**
 * Combine a batched prediction laid out branch-major — [branch 0: count images][branch 1: …] —
 * into `out` (count images): out = Σ_b weights[b]·pred[b].
 */
export function combineGuidance(pred: Float32Array, weights: readonly number[], out: Float32Array): Float32Array {
  const nb = weights.length;
  const n = out.length;
  if (pred.length !== n * nb) throw new Error(`guidance: prediction has ${pred.length} values, expected ${nb} branches × ${n}`);
  if (nb === 1) {
    const w = weights[0];
    for (let k = 0; k < n; k++) out[k] = w * pred[k];
    return out;
  }
  if (nb === 2) {
    const [w0, w1] = weights;
    for (let k = 0; k < n; k++) out[k] = w0 * pred[k] + w1 * pred[n + k];
    return out;
  }
  if (nb === 3) {
    // Evaluate the contract's form term by term (not the collapsed weights) for the 3-way case,
    // so rounding matches a reference implementation that writes the formula literally.
    const [w0, w1, w2] = weights;
    const sText = 1 - w0;
    const sFace = w2;
    if (Math.abs(sText - sFace - w1) > 1e-12) throw new Error('guidance: weights are not a three-way plan');
    for (let k = 0; k < n; k++) {
      const u = pred[k];
      const t = pred[n + k];
      const tf = pred[2 * n + k];
      out[k] = u + sText * (t - u) + sFace * (tf - t);
    }
    return out;
  }
  out.fill(0);
  for (let b = 0; b < nb; b++) {
    const w = weights[b];
    const off = b * n;
    for (let k = 0; k < n; k++) out[k] += w * pred[off + k];
  }
  return out;
}

/** The largest guidance rescale φ (a mix weight). */
export const MAX_GUIDANCE_RESCALE = 1;

/**
 * Guidance rescale (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps Are Flawed",
 * §3.4; diffusers' `guidance_rescale`). Large guidance scales push the guided prediction's spread far
 * past the conditional prediction's: over-exposed, dark, contrasty pictures. Per image, the guided
 * prediction is scaled to the standard deviation of the fully conditioned branch and mixed back:
 *
 *   ε̂' = φ·ε̂·σ(ε_cond)/σ(ε̂) + (1 − φ)·ε̂
 *
 * ε_cond is the plan's last branch (every plan lists its most conditioned branch last: text_face,
 * face or text). `guided` (count images) is changed in place; `pred` is the branch-major batch of
 * `branches` × count images it was combined from. φ = 0 or a one-branch plan leaves it as it is.
 */
export function rescaleGuidance(guided: Float32Array, pred: Float32Array, branches: number, count: number, phi: number): Float32Array {
  if (!(phi >= 0 && phi <= MAX_GUIDANCE_RESCALE)) throw new Error(`guidance rescale must be in [0, ${MAX_GUIDANCE_RESCALE}], got ${phi}`);
  if (phi === 0 || branches < 2) return guided;
  const n = guided.length;
  if (pred.length !== n * branches) throw new Error(`guidance rescale: prediction has ${pred.length} values, expected ${branches} branches × ${n}`);
  if (!Number.isInteger(count) || count < 1 || n % count !== 0) throw new Error(`guidance rescale: ${n} values are not ${count} images`);
  const px = n / count;
  const cond = (branches - 1) * n;
  for (let i = 0; i < count; i++) {
    const o = i * px;
    const sg = std(guided, o, px);
    if (!(sg > 0)) continue; // a constant prediction has no spread to rescale
    const f = phi * (std(pred, cond + o, px) / sg) + (1 - phi);
    for (let k = o; k < o + px; k++) guided[k] *= f;
  }
  return guided;
}

/** Standard deviation (population) of a[off .. off+len), accumulated in float64. */
function std(a: Float32Array, off: number, len: number): number {
  let s = 0;
  for (let k = off; k < off + len; k++) s += a[k];
  const mean = s / len;
  let v = 0;
  for (let k = off; k < off + len; k++) v += (a[k] - mean) ** 2;
  return Math.sqrt(v / len);
}
