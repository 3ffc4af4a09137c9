// x_0 tensors -> 8-bit pixels (runtime-neutral: Node and the browser quantise the same way).

/** [C, H, W] floats in [lo, hi] -> interleaved uint8 (values clamped, rounded half up). */
export function toUint8Hwc(x: Float32Array, offset: number, C: number, H: number, W: number, range: readonly [number, number]): Uint8Array {
  const [lo, hi] = range;
  const scale = 255 / (hi - lo);
  const out = new Uint8Array(H * W * C);
  const plane = H * W;
  for (let c = 0; c < C; c++) {
    const base = offset + c * plane;
    for (let p = 0; p < plane; p++) {
      const v = Math.floor((x[base + p] - lo) * scale + 0.5);
      out[p * C + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}
