// Seeded pseudo-random numbers for reproducible noise.
//
// Generator: xoshiro128** (Blackman & Vigna, 2018; 32-bit state words, period 2^128 - 1),
// seeded by expanding the seed with splitmix32 (the seeding recommended by the authors, in its
// 32-bit form). Uniforms in (0, 1) use the top 24 bits of an output: (u >>> 8) + 0.5) / 2^24.
// Normals: Box–Muller, both outputs of a pair are used (cos first, then sin).
// Only integer ops and Math.log/sqrt/cos/sin are used (V8 implements these with fdlibm ports),
// so a seed gives byte-identical sequences across runs and machines for a given Node version.
// Seeds: any integer in [0, 2^53); the high and low 32-bit halves are both mixed in.

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;
  readonly seed: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be an integer in [0, 2^53), got ${seed}`);
    this.seed = seed;
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const st = { s: lo ^ Math.imul(hi, 0x27d4eb2d) };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st) ^ hi;
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1; // the all-zero state is a fixed point
  }

  /** A generator with an explicit xoshiro128** state (for checking against the reference implementation). */
  static fromState(a: number, b: number, c: number, d: number): Rng {
    const r = new Rng(0);
    r.a = a | 0;
    r.b = b | 0;
    r.c = c | 0;
    r.d = d | 0;
    return r;
  }

  /** Next raw 32-bit output (unsigned). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in the open interval (0, 1). */
  uniform(): number {
    return ((this.nextUint32() >>> 8) + 0.5) / 16777216;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * u2;
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  /** Fill `out` (or a new array of length n) with standard normals. */
  fillNormal(out: Float32Array, offset = 0, length = out.length - offset): Float32Array {
    for (let i = 0; i < length; i++) out[offset + i] = this.normal();
    return out;
  }

  normals(n: number): Float32Array {
    return this.fillNormal(new Float32Array(n));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
