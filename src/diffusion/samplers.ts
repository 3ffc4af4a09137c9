// Samplers as plain functions over a denoiser callback (k-diffusion style).
//
// State: x is kept in the variance-preserving scaling of the training process,
//   x_t = sqrt(ab_t)·x_0 + sqrt(1 - ab_t)·eps     (what the UNet sees),
// in a Float32Array that is updated in place; every coefficient is computed in float64.
// The denoiser returns the model's raw prediction (v or eps, per `predictionType`) for x at a
// (float) timestep t; `toX0Eps` is the one place where predictions are converted.
// Each sampler visits the given descending timesteps (one denoiser call each) and ends on x_0
// (the final step goes to ab = 1 unless `finalAlphaBar` says otherwise).
// Buffers are allocated once per call; steps allocate nothing.
import type { NoiseSchedule } from './schedule.js';

export type PredictionType = 'v' | 'eps';
export type SamplerName = 'ddim' | 'dpmpp_2m' | 'euler';
export const SAMPLERS: readonly SamplerName[] = ['ddim', 'dpmpp_2m', 'euler'];

/** Model prediction for x at timestep t. The returned array is read before the next call (it may be reused). */
export type Denoiser = (x: Float32Array, t: number) => Float32Array | Promise<Float32Array>;

export interface SamplerOptions {
  schedule: NoiseSchedule;
  /** Descending timesteps (integer or fractional, within [0, T-1]). */
  timesteps: readonly number[];
  predictionType: PredictionType;
  /** ab after the last step; 1 (default) returns the clean x_0 prediction of the last step. */
  finalAlphaBar?: number;
  /** DDIM only: 0 = deterministic DDIM, 1 = DDPM-like ancestral noise. */
  eta?: number;
  /** Fills a buffer with standard normal noise (DDIM with eta > 0). */
  noise?: (out: Float32Array) => void;
  onStep?: (step: number, total: number) => void;
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------------
// Conversions v <-> eps <-> x0 (docs/CONTRACTS.md §4), with a = sqrt(ab), s = sqrt(1 - ab):
//   v = a·eps − s·x0  ⇒  x0 = a·x − s·v,  eps = s·x + a·v
//   eps-prediction    ⇒  x0 = (x − s·eps) / a
// ---------------------------------------------------------------------------------------------
export function toX0Eps(
  pred: Float32Array,
  x: Float32Array,
  alphaBar: number,
  type: PredictionType,
  x0Out: Float32Array,
  epsOut: Float32Array,
): void {
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const n = x.length;
  if (pred.length !== n) throw new Error(`denoiser returned ${pred.length} values for an input of ${n}`);
  if (type === 'v') {
    for (let i = 0; i < n; i++) {
      const xi = x[i];
      const vi = pred[i];
      x0Out[i] = a * xi - s * vi;
      epsOut[i] = s * xi + a * vi;
    }
  } else if (type === 'eps') {
    for (let i = 0; i < n; i++) {
      const e = pred[i];
      x0Out[i] = (x[i] - s * e) / a;
      epsOut[i] = e;
    }
  } else {
    throw new Error(`unknown prediction type ${JSON.stringify(type)}`);
  }
}

/** The model output that a perfect model would give for (x0, eps) at ab: used by tests and tools. */
export function predictionFrom(x0: number, eps: number, alphaBar: number, type: PredictionType): number {
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  return type === 'v' ? a * eps - s * x0 : eps;
}

function checkCommon(x: Float32Array, o: SamplerOptions): void {
  if (o.timesteps.length < 1) throw new Error('sampler: at least one timestep is required');
  for (let i = 1; i < o.timesteps.length; i++) {
    if (!(o.timesteps[i] < o.timesteps[i - 1])) throw new Error('sampler: timesteps must be strictly descending');
  }
  if (x.length === 0) throw new Error('sampler: empty input');
}

function abortIfNeeded(signal?: AbortSignal): void {
  if (signal?.aborted) {
    const err = new Error('generation aborted');
    err.name = 'AbortError';
    throw err;
  }
}

function nextAlphaBar(o: SamplerOptions, i: number): number {
  return i + 1 < o.timesteps.length ? o.schedule.alphaBarAt(o.timesteps[i + 1]) : (o.finalAlphaBar ?? 1);
}

/**
 * DDIM (Song et al. 2021), eq. 12:
 *   x_prev = sqrt(ab_prev)·x0 + sqrt(1 − ab_prev − σ²)·eps + σ·z,
 *   σ = eta·sqrt((1 − ab_prev)/(1 − ab))·sqrt(1 − ab/ab_prev)
 */
export async function sampleDdim(x: Float32Array, denoise: Denoiser, o: SamplerOptions): Promise<Float32Array> {
  checkCommon(x, o);
  const eta = o.eta ?? 0;
  if (!(eta >= 0)) throw new Error(`eta must be >= 0, got ${eta}`);
  if (eta > 0 && !o.noise) throw new Error('sampler: ddim with eta > 0 needs a noise source');
  const n = x.length;
  const x0 = new Float32Array(n);
  const eps = new Float32Array(n);
  const z = eta > 0 ? new Float32Array(n) : null;
  const N = o.timesteps.length;
  for (let i = 0; i < N; i++) {
    abortIfNeeded(o.signal);
    const t = o.timesteps[i];
    const ab = o.schedule.alphaBarAt(t);
    const abPrev = nextAlphaBar(o, i);
    const pred = await denoise(x, t);
    toX0Eps(pred, x, ab, o.predictionType, x0, eps);
    const sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(Math.max(0, 1 - ab / abPrev));
    const cx0 = Math.sqrt(abPrev);
    const ceps = Math.sqrt(Math.max(0, 1 - abPrev - sigma * sigma));
    if (z && sigma > 0) {
      o.noise!(z);
      for (let k = 0; k < n; k++) x[k] = cx0 * x0[k] + ceps * eps[k] + sigma * z[k];
    } else {
      for (let k = 0; k < n; k++) x[k] = cx0 * x0[k] + ceps * eps[k];
    }
    o.onStep?.(i + 1, N);
  }
  return x;
}

/**
 * DPM-Solver++(2M) (Lu et al. 2022), data-prediction multistep, as in k-diffusion's
 * `sample_dpmpp_2m`: with α = sqrt(ab), σ = sqrt(1 − ab), λ = log(α/σ), h = λ_next − λ,
 *   x_next = (σ_next/σ)·x − α_next·expm1(−h)·D,
 *   D = x0 (first step, and the last step when it goes to ab = 1),
 *   D = (1 + 1/(2r))·x0 − (1/(2r))·x0_prev with r = h_prev/h otherwise.
 */
export async function sampleDpmpp2m(x: Float32Array, denoise: Denoiser, o: SamplerOptions): Promise<Float32Array> {
  checkCommon(x, o);
  const n = x.length;
  let x0 = new Float32Array(n);
  let x0Prev = new Float32Array(n);
  const eps = new Float32Array(n);
  const N = o.timesteps.length;
  let hPrev = NaN;
  for (let i = 0; i < N; i++) {
    abortIfNeeded(o.signal);
    const t = o.timesteps[i];
    const ab = o.schedule.alphaBarAt(t);
    const abNext = nextAlphaBar(o, i);
    const pred = await denoise(x, t);
    toX0Eps(pred, x, ab, o.predictionType, x0, eps);
    if (abNext >= 1) {
      x.set(x0);
    } else {
      const lam = 0.5 * Math.log(ab / (1 - ab));
      const lamNext = 0.5 * Math.log(abNext / (1 - abNext));
      const h = lamNext - lam;
      const cx = Math.sqrt((1 - abNext) / (1 - ab));
      const cd = -Math.sqrt(abNext) * Math.expm1(-h);
      if (i === 0) {
        for (let k = 0; k < n; k++) x[k] = cx * x[k] + cd * x0[k];
      } else {
        const r = hPrev / h;
        const c0 = 1 + 1 / (2 * r);
        const c1 = 1 / (2 * r);
        for (let k = 0; k < n; k++) x[k] = cx * x[k] + cd * (c0 * x0[k] - c1 * x0Prev[k]);
      }
      hPrev = h;
    }
    const tmp = x0Prev;
    x0Prev = x0;
    x0 = tmp;
    o.onStep?.(i + 1, N);
  }
  return x;
}

/**
 * Euler (Karras et al. 2022, k-diffusion `sample_euler`) on the probability-flow ODE in the
 * VE scaling x̃ = x/α, σ̃ = σ/α = sqrt((1 − ab)/ab):  d = (x̃ − D)/σ̃,  x̃_next = x̃ + (σ̃_next − σ̃)·d.
 * The state is stored back in the VP scaling (x = α·x̃) so that large σ̃ (≈ 2e4 for cosine
 * schedules) never sits in float32. With the same timesteps this is mathematically DDIM(eta=0).
 */
export async function sampleEuler(x: Float32Array, denoise: Denoiser, o: SamplerOptions): Promise<Float32Array> {
  checkCommon(x, o);
  const n = x.length;
  const x0 = new Float32Array(n);
  const eps = new Float32Array(n);
  const N = o.timesteps.length;
  for (let i = 0; i < N; i++) {
    abortIfNeeded(o.signal);
    const t = o.timesteps[i];
    const ab = o.schedule.alphaBarAt(t);
    const abNext = nextAlphaBar(o, i);
    const pred = await denoise(x, t);
    toX0Eps(pred, x, ab, o.predictionType, x0, eps);
    const alpha = Math.sqrt(ab);
    const sig = Math.sqrt((1 - ab) / ab);
    const alphaNext = Math.sqrt(abNext);
    const sigNext = Math.sqrt((1 - abNext) / abNext);
    for (let k = 0; k < n; k++) {
      const xt = x[k] / alpha;
      const d = (xt - x0[k]) / sig;
      x[k] = alphaNext * (xt + (sigNext - sig) * d);
    }
    o.onStep?.(i + 1, N);
  }
  return x;
}

export function sample(name: SamplerName, x: Float32Array, denoise: Denoiser, o: SamplerOptions): Promise<Float32Array> {
  switch (name) {
    case 'ddim':
      return sampleDdim(x, denoise, o);
    case 'dpmpp_2m':
      return sampleDpmpp2m(x, denoise, o);
    case 'euler':
      return sampleEuler(x, denoise, o);
    default:
      throw new Error(`unknown sampler ${JSON.stringify(name)} (expected one of ${SAMPLERS.join(', ')})`);
  }
}
