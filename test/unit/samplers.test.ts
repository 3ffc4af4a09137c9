import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoiseSchedule, makeTimesteps } from '../../src/diffusion/schedule.js';
import { sample, sampleDdim, sampleEuler, sampleDpmpp2m, toX0Eps, predictionFrom, SAMPLERS, type PredictionType, type SamplerName } from '../../src/diffusion/samplers.js';
import { Rng } from '../../src/diffusion/rng.js';

// Cosine schedule as in improved DDPM / the trainer (max beta 0.999).
function cosineBetas(T: number): number[] {
  const f = (t: number) => Math.cos(((t / T + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  return Array.from({ length: T }, (_, i) => Math.min(1 - f(i + 1) / f(i), 0.999));
}
function linearBetas(T: number): number[] {
  return Array.from({ length: T }, (_, i) => 1e-4 + ((0.02 - 1e-4) * i) / (T - 1));
}
const schedules = { cosine: new NoiseSchedule(cosineBetas(1000)), linear: new NoiseSchedule(linearBetas(1000)) };

/** Exact denoiser for data = a single point x0*: returns the model prediction (v or eps). */
function pointDenoiser(x0star: Float32Array, sched: NoiseSchedule, type: PredictionType) {
  const out = new Float32Array(x0star.length);
  return (x: Float32Array, t: number) => {
    const ab = sched.alphaBarAt(t);
    const a = Math.sqrt(ab), s = Math.sqrt(1 - ab);
    for (let i = 0; i < x.length; i++) {
      const eps = (x[i] - a * x0star[i]) / s;
      out[i] = predictionFrom(x0star[i], eps, ab, type);
    }
    return out;
  };
}

/** Exact denoiser for 1-D Gaussian data N(mu, sd²) per element. */
function gaussianDenoiser(mu: number, sd: number, sched: NoiseSchedule, type: PredictionType) {
  const out = new Float32Array(64);
  return (x: Float32Array, t: number) => {
    const ab = sched.alphaBarAt(t);
    const a = Math.sqrt(ab), s = Math.sqrt(1 - ab);
    const o = out.length === x.length ? out : new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const x0 = mu + ((a * sd * sd) / (ab * sd * sd + s * s)) * (x[i] - a * mu);
      o[i] = predictionFrom(x0, (x[i] - a * x0) / s, ab, type);
    }
    return o;
  };
}
/** Probability-flow ODE solution for Gaussian data: the standardised value is preserved. */
function gaussianOdeTarget(xT: number, mu: number, sd: number, abT: number): number {
  return mu + (sd * (xT - Math.sqrt(abT) * mu)) / Math.sqrt(abT * sd * sd + (1 - abT));
}

test('toX0Eps inverts predictionFrom for v and eps', () => {
  for (const type of ['v', 'eps'] as const) {
    const ab = 0.37;
    const x0 = Float32Array.from([0.5, -0.25]);
    const eps = Float32Array.from([1.2, -0.7]);
    const x = x0.map((v, i) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * eps[i]);
    const pred = x0.map((v, i) => predictionFrom(v, eps[i], ab, type));
    const gx = new Float32Array(2), ge = new Float32Array(2);
    toX0Eps(pred, x, ab, type, gx, ge);
    for (let i = 0; i < 2; i++) {
      assert.ok(Math.abs(gx[i] - x0[i]) < 1e-5, `${type} x0`);
      assert.ok(Math.abs(ge[i] - eps[i]) < 1e-5, `${type} eps`);
    }
  }
  // v convention: v = a·eps − s·x0 (not the opposite sign)
  assert.ok(Math.abs(predictionFrom(1, 0, 0.64, 'v') - -0.6) < 1e-12);
});

for (const [sname, sched] of Object.entries(schedules)) {
  for (const type of ['v', 'eps'] as const) {
    for (const name of SAMPLERS) {
      test(`${name} lands on the single data point (${sname}, ${type})`, async () => {
        const rng = new Rng(1);
        const x0star = rng.normals(32).map((v) => 0.5 * v);
        const x = rng.normals(32);
        const ts = makeTimesteps(1000, 10, 'trailing');
        const out = await sample(name, x, pointDenoiser(x0star, sched, type), {
          schedule: sched, timesteps: ts, predictionType: type, eta: name === 'ddim' ? 1 : 0, noise: (b) => rng.fillNormal(b),
        });
        // eps-prediction at ab ~ 2e-9 amplifies float32 rounding by 1/sqrt(ab) on the first step only; the end is still exact-ish
        for (let i = 0; i < 32; i++) assert.ok(Math.abs(out[i] - x0star[i]) < 2e-4, `${name}: ${out[i]} vs ${x0star[i]}`);
      });
    }
  }
}

test('on Gaussian data every sampler converges to the probability-flow ODE solution; DPM++(2M) beats Euler', async () => {
  const sched = schedules.linear;
  const mu = 0.3, sd = 0.5;
  const xT = new Rng(7).normals(64);
  const abT = sched.alphaBarAt(999);
  const target = xT.map((v) => gaussianOdeTarget(v, mu, sd, abT));
  const err = async (name: SamplerName, steps: number) => {
    const x = new Float32Array(xT);
    await sample(name, x, gaussianDenoiser(mu, sd, sched, 'v'), { schedule: sched, timesteps: makeTimesteps(1000, steps, 'trailing'), predictionType: 'v' });
    let m = 0;
    for (let i = 0; i < 64; i++) m = Math.max(m, Math.abs(x[i] - target[i]));
    return m;
  };
  const e = { euler10: await err('euler', 10), euler100: await err('euler', 100), dpm10: await err('dpmpp_2m', 10), dpm50: await err('dpmpp_2m', 50), ddim100: await err('ddim', 100) };
  // first order: error ~ 1/steps (measured 0.34 -> 0.038); second order: 0.25 at 10 -> 0.0014 at 50
  assert.ok(e.euler100 < 0.05, `euler 100 steps error ${e.euler100}`);
  assert.ok(e.ddim100 < 0.05, `ddim 100 steps error ${e.ddim100}`);
  assert.ok(e.dpm50 < 0.005, `dpm++ 50 steps error ${e.dpm50}`);
  assert.ok(e.euler100 < e.euler10 / 5, 'euler error must shrink ~linearly with steps');
  assert.ok(e.dpm10 < e.euler10, `dpm++ (${e.dpm10}) should beat euler (${e.euler10}) at 10 steps`);
});

test('DDIM(eta=0) and Euler are the same ODE discretisation; DDIM eta=0 is deterministic, eta>0 uses the noise', async () => {
  const sched = schedules.cosine;
  const den = gaussianDenoiser(-0.1, 0.7, sched, 'v');
  const xT = new Rng(3).normals(64);
  const ts = makeTimesteps(1000, 50, 'trailing');
  const a = await sampleDdim(new Float32Array(xT), den, { schedule: sched, timesteps: ts, predictionType: 'v' });
  const b = await sampleEuler(new Float32Array(xT), den, { schedule: sched, timesteps: ts, predictionType: 'v' });
  const c = await sampleDpmpp2m(new Float32Array(xT), den, { schedule: sched, timesteps: ts, predictionType: 'v' });
  for (let i = 0; i < 64; i++) {
    assert.ok(Math.abs(a[i] - b[i]) < 1e-4, `ddim ${a[i]} vs euler ${b[i]}`);
    assert.ok(Math.abs(a[i] - c[i]) < 0.1, `ddim ${a[i]} vs dpm++ ${c[i]}`);
  }
  const r = new Rng(11);
  const d = await sampleDdim(new Float32Array(xT), den, { schedule: sched, timesteps: ts, predictionType: 'v', eta: 1, noise: (z) => r.fillNormal(z) });
  let diff = 0;
  for (let i = 0; i < 64; i++) diff += Math.abs(d[i] - a[i]);
  assert.ok(diff > 1e-2, 'eta=1 must differ from eta=0');
  await assert.rejects(sampleDdim(new Float32Array(4), den, { schedule: sched, timesteps: ts, predictionType: 'v', eta: 0.5 }), /noise source/);
});

test('samplers call the denoiser once per timestep, report progress, honour abort', async () => {
  const sched = schedules.cosine;
  const ts = makeTimesteps(1000, 7, 'trailing');
  for (const name of SAMPLERS) {
    const seen: number[] = [];
    const steps: number[] = [];
    const den = pointDenoiser(new Float32Array(4), sched, 'v');
    await sample(name, new Float32Array(4).fill(1), (x, t) => (seen.push(t), den(x, t)), { schedule: sched, timesteps: ts, predictionType: 'v', onStep: (i) => steps.push(i) });
    assert.deepEqual(seen, ts);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7]);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(sample(name, new Float32Array(4), den, { schedule: sched, timesteps: ts, predictionType: 'v', signal: ac.signal }), { name: 'AbortError' });
  }
});
