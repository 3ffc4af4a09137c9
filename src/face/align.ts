// Face alignment: a least-squares similarity transform (rotation, uniform scale, translation)
// from 5 facial points to a fixed canonical template, and a warp that produces the aligned crop
// at any size. The warp is hand-written (not sharp.affine) so that its pixel conventions and
// anti-aliasing are exactly the ones documented here, identical for training crops and the
// embedder's input.
import type { RgbImage } from './rgb-image.js';

export type Point = [number, number];

/**
 * Canonical 5-point template in unit coordinates (left eye, right eye, nose tip, left and right
 * mouth corner, as seen in the image): the widely used ArcFace 112x112 template divided by 112.
 */
export const TEMPLATE_5: readonly Point[] = [
  [38.2946 / 112, 51.6963 / 112],
  [73.5318 / 112, 51.5014 / 112],
  [56.0252 / 112, 71.7366 / 112],
  [41.5493 / 112, 92.3655 / 112],
  [70.7299 / 112, 92.2041 / 112],
];

/**
 * How much of the head a crop shows. `zoom` > 1 shrinks the face inside the crop (more context);
 * `shiftY` moves the face down (positive) to leave room for hair and hats.
 */
export interface Framing { zoom: number; shiftY: number }

export const FRAMINGS = {
  /** Crop for the identity embedder: eyes higher than the ArcFace template, as in the dlib-style chips the net was trained on. Tuned with `face0 bench verify --zoom Z --shift-y Y` on 30 CelebA people (0.83 → 0.97 pair accuracy). */
  recognition: { zoom: 1.0, shiftY: -0.15 },
  /** Whole head with hair and hats: the training crops and what the model generates. */
  portrait: { zoom: 1.55, shiftY: 0.05 },
  /** The closest framing a training crop is moved to when the photo cannot hold the portrait one (fitFraming). */
  tight: { zoom: 0.9, shiftY: -0.15 },
} as const satisfies Record<string, Framing>;

/** Template points in output pixel coordinates for a crop of `size` with a framing. */
export function templatePoints(size: number, framing: Framing): Point[] {
  return TEMPLATE_5.map(([x, y]) => [((x - 0.5) / framing.zoom + 0.5) * size, ((y - 0.5) / framing.zoom + 0.5 + framing.shiftY) * size]);
}

/**
 * The framing closest to `framing` on the line from it to `tightest` (zoom and shiftY moved
 * together) whose crop lies inside the source photo, so that no output pixel is a clamped copy of
 * the photo's border. Tight sources (UTKFace chips) cannot hold the whole-head portrait framing:
 * clamping drew streaks over about 60 % of the crop there (mostly above the head), which a
 * generator learns to draw. Fitting per photo keeps crops real content, at the price of a closer
 * face on tight photos; past `tightest` the rest is clamped as before. Binary search on the
 * position along the line: the crop is a (rotated) square, inside the photo exactly when its four
 * corners are.
 */
export function fitFraming(landmarks5: readonly Point[], width: number, height: number, size: number, framing: Framing, tightest: Framing = FRAMINGS.tight): Framing {
  const at = (t: number): Framing => ({ zoom: framing.zoom + t * (tightest.zoom - framing.zoom), shiftY: framing.shiftY + t * (tightest.shiftY - framing.shiftY) });
  const fits = (t: number): boolean => {
    const m = estimateSimilarity(templatePoints(size, at(t)), landmarks5);
    return ([[0, 0], [size, 0], [0, size], [size, size]] as Point[]).every((c) => {
      const [x, y] = applySimilarity(m, c);
      return x >= 0 && y >= 0 && x <= width && y <= height;
    });
  };
  if (fits(0)) return framing;
  if (!fits(1)) return tightest;
  let lo = 0, hi = 1; // fits(hi) holds
  for (let i = 0; i < 12; i++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) hi = mid; else lo = mid;
  }
  return at(hi); // not rounded: a rounded framing can reach a fraction of a pixel outside
}

/** Similarity transform as the 2x3 matrix [[a, -b, tx], [b, a, ty]]: p' = (a·x − b·y + tx, b·x + a·y + ty). */
export interface Similarity { a: number; b: number; tx: number; ty: number }

/**
 * Least-squares similarity mapping `from[i]` onto `to[i]` (Umeyama without reflection; in complex
 * numbers: minimise Σ|s·z_i + t − w_i|², so s = Σ(w−w̄)·conj(z−z̄) / Σ|z−z̄|²).
 */
export function estimateSimilarity(from: readonly Point[], to: readonly Point[]): Similarity {
  if (from.length !== to.length || from.length < 2) throw new Error('estimateSimilarity: need ≥ 2 matching points');
  const n = from.length;
  let fx = 0, fy = 0, tx = 0, ty = 0;
  for (let i = 0; i < n; i++) { fx += from[i][0]; fy += from[i][1]; tx += to[i][0]; ty += to[i][1]; }
  fx /= n; fy /= n; tx /= n; ty /= n;
  let re = 0, im = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const zx = from[i][0] - fx, zy = from[i][1] - fy;
    const wx = to[i][0] - tx, wy = to[i][1] - ty;
    // (wx + i·wy)·(zx − i·zy)
    re += wx * zx + wy * zy;
    im += wy * zx - wx * zy;
    norm += zx * zx + zy * zy;
  }
  if (norm === 0) throw new Error('estimateSimilarity: source points are all identical');
  const a = re / norm, b = im / norm;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

export function applySimilarity(m: Similarity, [x, y]: Point): Point {
  return [m.a * x - m.b * y + m.tx, m.b * x + m.a * y + m.ty];
}

/** Scale factor of the transform (source pixels per output pixel when mapping output → source). */
export function similarityScale(m: Similarity): number {
  return Math.hypot(m.a, m.b);
}

/**
 * Aligned crop: output pixel (i, j) has its centre at (j + 0.5, i + 0.5); it is mapped into the
 * source by the transform fitted from the template to the landmarks, and sampled bilinearly
 * (source pixel k covers [k, k+1), edges clamped). When the crop shrinks the face by more than
 * 1.5x, each output pixel averages a k×k grid of samples (k = ceil(scale)) to avoid aliasing.
 */
export function alignFace(img: RgbImage, landmarks5: readonly Point[], size: number, framing: Framing = FRAMINGS.portrait): RgbImage {
  if (!Number.isInteger(size) || size < 8 || size > 2048) throw new Error(`alignFace: size must be an integer in [8, 2048], got ${size}`);
  const toSource = estimateSimilarity(templatePoints(size, framing), landmarks5);
  const scale = similarityScale(toSource);
  const k = scale > 1.5 ? Math.min(8, Math.ceil(scale)) : 1;
  const out = new Uint8Array(size * size * 3);
  const { data, width, height } = img;
  const acc = [0, 0, 0];
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      acc[0] = acc[1] = acc[2] = 0;
      for (let si = 0; si < k; si++) {
        for (let sj = 0; sj < k; sj++) {
          const u = j + (sj + 0.5) / k, v = i + (si + 0.5) / k;
          const x = toSource.a * u - toSource.b * v + toSource.tx - 0.5;
          const y = toSource.b * u + toSource.a * v + toSource.ty - 0.5;
          sampleBilinear(data, width, height, x, y, acc);
        }
      }
      const o = (i * size + j) * 3;
      const inv = 1 / (k * k);
      out[o] = Math.round(acc[0] * inv);
      out[o + 1] = Math.round(acc[1] * inv);
      out[o + 2] = Math.round(acc[2] * inv);
    }
  }
  return { data: out, width: size, height: size };
}

function sampleBilinear(data: Uint8Array, width: number, height: number, x: number, y: number, acc: number[]): void {
  // Edges are clamped: a mirrored border would show ghost faces to the generator.
  const cx = Math.min(Math.max(x, 0), width - 1);
  const cy = Math.min(Math.max(y, 0), height - 1);
  const x0 = Math.floor(cx), y0 = Math.floor(cy);
  const x1 = Math.min(x0 + 1, width - 1), y1 = Math.min(y0 + 1, height - 1);
  const fx = cx - x0, fy = cy - y0;
  const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
  const p00 = (y0 * width + x0) * 3, p01 = (y0 * width + x1) * 3, p10 = (y1 * width + x0) * 3, p11 = (y1 * width + x1) * 3;
  for (let c = 0; c < 3; c++) {
    acc[c] += w00 * data[p00 + c] + w01 * data[p01 + c] + w10 * data[p10 + c] + w11 * data[p11 + c];
  }
}

/** The 5 points (eye centres, nose tip, mouth corners) from the 68-point iBUG layout. */
export function fivePointsFrom68(lm: readonly Point[]): Point[] {
  if (lm.length !== 68) throw new Error(`fivePointsFrom68: expected 68 landmarks, got ${lm.length}`);
  const mean = (from: number, to: number): Point => {
    let x = 0, y = 0;
    for (let i = from; i <= to; i++) { x += lm[i][0]; y += lm[i][1]; }
    const n = to - from + 1;
    return [x / n, y / n];
  };
  return [mean(36, 41), mean(42, 47), [lm[30][0], lm[30][1]], [lm[48][0], lm[48][1]], [lm[54][0], lm[54][1]]];
}
