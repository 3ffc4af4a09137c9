// Spherical linear interpolation of identity embeddings (both are L2-normalised first).
//   slerp(a, b, t) = sin((1−t)·Ω)/sin Ω · a + sin(t·Ω)/sin Ω · b,   cos Ω = a·b
// Degenerate cases:
//   - a ≈ b (Ω < 1e-6): normalised linear interpolation (the limit);
//   - a ≈ −b (antipodal, π − Ω < 1e-6): the great circle is undefined; an error says so.
// t outside [0, 1] extrapolates along the same great circle. The result has unit norm.
import { dot, normalize } from './vec.js';

export function slerp(a: ArrayLike<number>, b: ArrayLike<number>, t: number): Float32Array {
  if (a.length !== b.length) throw new Error(`slerp: embeddings have different lengths (${a.length} vs ${b.length})`);
  if (!Number.isFinite(t)) throw new Error(`slerp: t must be finite, got ${t}`);
  const u = normalize(a, 'first embedding');
  const v = normalize(b, 'second embedding');
  const c = Math.min(1, Math.max(-1, dot(u, v)));
  const omega = Math.acos(c);
  const out = new Float32Array(u.length);
  if (omega < 1e-6) {
    for (let i = 0; i < u.length; i++) out[i] = (1 - t) * u[i] + t * v[i];
    return normalize(out, 'interpolated embedding');
  }
  if (Math.PI - omega < 1e-6) throw new Error('slerp: the two embeddings are opposite (antipodal); the interpolation path is undefined');
  const s = Math.sin(omega);
  const wa = Math.sin((1 - t) * omega) / s;
  const wb = Math.sin(t * omega) / s;
  for (let i = 0; i < u.length; i++) out[i] = wa * u[i] + wb * v[i];
  return normalize(out, 'interpolated embedding');
}
