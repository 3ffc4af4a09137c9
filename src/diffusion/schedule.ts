// Noise schedule maths (docs/CONTRACTS.md §4 "Schedule semantics"), in float64.
//
//   alphas_cumprod[t] = prod_{s<=t} (1 - betas[s]),  t in [0, T)
//   x_t = sqrt(ab_t)·x_0 + sqrt(1 - ab_t)·eps
//   sigma_t = sqrt((1 - ab_t) / ab_t)            (the k-diffusion / "VE" noise level)
// Fractional timesteps: the UNet takes t as a float. sigma -> t and t -> sigma for non-integer t
// are linear interpolations of log(sigma) over the integer table (as k-diffusion does).

export type TimestepSpacing = 'trailing' | 'leading' | 'linspace';
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['trailing', 'leading', 'linspace'];

export function alphasCumprod(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let p = 1;
  for (let t = 0; t < betas.length; t++) {
    const b = betas[t];
    if (!(b > 0 && b < 1)) throw new Error(`schedule: betas[${t}] = ${b} is outside (0, 1)`);
    p *= 1 - b;
    out[t] = p;
  }
  return out;
}

export function sigmasFromAlphasCumprod(ac: ArrayLike<number>): Float64Array {
  const out = new Float64Array(ac.length);
  for (let t = 0; t < ac.length; t++) out[t] = Math.sqrt((1 - ac[t]) / ac[t]);
  return out;
}

/** numpy's np.round: round half to even (so spacings match numpy-based trainers exactly). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The integer timesteps a sampler visits, in descending order (n of them, T = train timesteps).
 * - `trailing`: round(arange(T, 0, -T/n)) - 1 -> starts at T-1 (pure noise) and spaces
 *   evenly down; the best choice for few steps with schedules whose ab_{T-1} is ~0 (cosine).
 *   (diffusers `timestep_spacing="trailing"`, Lin et al. 2023 "Common diffusion noise schedules…")
 * - `leading`: arange(0, n) * floor(T/n), reversed -> starts at (n-1)·floor(T/n) (diffusers' DDIM
 *   default, Stable Diffusion); never visits the last timestep.
 * - `linspace` (default of the pipeline): t_i = floor((T-1)·(n-1-i)/(n-1) + 0.5), i = 0..n-1 ->
 *   first T-1, last 0 (n = 1: [T-1]). Exactly the trainer's reference DDIM
 *   (trainer/face0_trainer/schedule.py `ddim_timesteps`: rounding half away from zero, which
 *   differs from numpy/diffusers' half-to-even on ties, e.g. n = 7 gives 167 where numpy gives 166).
 * `trailing` rounds with numpy's round-half-to-even (as diffusers). Duplicates (n > T) are an error.
 */
export function makeTimesteps(T: number, n: number, spacing: TimestepSpacing = 'linspace'): number[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`steps must be a positive integer, got ${n}`);
  if (n > T) throw new Error(`steps (${n}) cannot exceed the schedule's ${T} training timesteps`);
  let ts: number[];
  if (spacing === 'trailing') {
    const ratio = T / n;
    ts = [];
    for (let i = 0; i < n; i++) ts.push(roundHalfEven(T - i * ratio) - 1);
  } else if (spacing === 'leading') {
    const ratio = Math.floor(T / n);
    ts = [];
    for (let i = n - 1; i >= 0; i--) ts.push(i * ratio);
  } else if (spacing === 'linspace') {
    ts = [];
    for (let i = 0; i < n; i++) ts.push(n === 1 ? T - 1 : Math.floor(((T - 1) * (n - 1 - i)) / (n - 1) + 0.5));
  } else {
    throw new Error(`unknown timestep spacing ${JSON.stringify(spacing)} (expected one of ${TIMESTEP_SPACINGS.join(', ')})`);
  }
  for (let i = 1; i < ts.length; i++) {
    if (!(ts[i] < ts[i - 1])) throw new Error(`timestep spacing ${spacing} with ${n} steps gives repeated timesteps`);
  }
  return ts;
}

/** A discrete schedule with continuous (log-sigma interpolated) lookups. */
export class NoiseSchedule {
  readonly alphasCumprod: Float64Array;
  readonly sigmas: Float64Array;
  readonly logSigmas: Float64Array;
  readonly T: number;

  constructor(betas: ArrayLike<number>) {
    this.alphasCumprod = alphasCumprod(betas);
    this.sigmas = sigmasFromAlphasCumprod(this.alphasCumprod);
    this.logSigmas = this.sigmas.map(Math.log);
    this.T = betas.length;
    for (let t = 1; t < this.T; t++) {
      if (!(this.logSigmas[t] > this.logSigmas[t - 1])) throw new Error('schedule: sigmas must increase strictly with t');
    }
  }

  static fromAlphasCumprod(ac: ArrayLike<number>): NoiseSchedule {
    const betas = new Float64Array(ac.length);
    let prev = 1;
    for (let t = 0; t < ac.length; t++) {
      betas[t] = 1 - ac[t] / prev;
      prev = ac[t];
    }
    return new NoiseSchedule(betas);
  }

  /** sigma at a (possibly fractional) timestep t in [0, T-1]. */
  sigmaAt(t: number): number {
    if (!(t >= 0 && t <= this.T - 1)) throw new Error(`timestep ${t} is outside [0, ${this.T - 1}]`);
    const lo = Math.floor(t);
    if (lo === t) return this.sigmas[lo];
    const w = t - lo;
    return Math.exp((1 - w) * this.logSigmas[lo] + w * this.logSigmas[lo + 1]);
  }

  /** ab at a (possibly fractional) timestep; exact table value for integer t. */
  alphaBarAt(t: number): number {
    if (Number.isInteger(t)) {
      if (!(t >= 0 && t <= this.T - 1)) throw new Error(`timestep ${t} is outside [0, ${this.T - 1}]`);
      return this.alphasCumprod[t];
    }
    const s = this.sigmaAt(t);
    return 1 / (1 + s * s);
  }

  /** Inverse of sigmaAt: linear interpolation of log sigma; clamped to [0, T-1]. */
  sigmaToT(sigma: number): number {
    if (!(sigma > 0)) throw new Error(`sigma must be > 0, got ${sigma}`);
    const ls = Math.log(sigma);
    const L = this.logSigmas;
    if (ls <= L[0]) return 0;
    if (ls >= L[this.T - 1]) return this.T - 1;
    let lo = 0;
    let hi = this.T - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (L[mid] <= ls) lo = mid;
      else hi = mid;
    }
    const w = (ls - L[lo]) / (L[hi] - L[lo]);
    return lo + w;
  }
}
