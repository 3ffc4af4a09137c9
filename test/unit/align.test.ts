// Face alignment (src/face/align.ts): the similarity fit, the template framings, the 68→5 point
// reduction and the warp's pixel conventions, checked against independent computations
// (normal equations solved by Gaussian elimination, synthetic images with known geometry).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alignFace, applySimilarity, estimateSimilarity, fitFraming, fivePointsFrom68, FRAMINGS, similarityScale,
  TEMPLATE_5, templatePoints, type Point, type Similarity,
} from '../../src/face/align.js';
import type { RgbImage } from '../../src/face/image.js';
import { mulberry32 } from '../../src/data/random.js';

const close = (got: number, want: number, tol: number, msg = '') =>
  assert.ok(Math.abs(got - want) <= tol, `${msg}: got ${got}, want ${want} (±${tol})`);

/** Rotation by `deg` degrees, uniform scale `s`, then translation — written out by hand. */
function transform(deg: number, s: number, t: Point) {
  const th = (deg * Math.PI) / 180;
  const c = Math.cos(th) * s, si = Math.sin(th) * s;
  return (p: Point): Point => [c * p[0] - si * p[1] + t[0], si * p[0] + c * p[1] + t[1]];
}

/** Least squares for (a, b, tx, ty) via the 4x4 normal equations (independent of the complex-number formula). */
function normalEquationsFit(from: readonly Point[], to: readonly Point[]): Similarity {
  const ata = Array.from({ length: 4 }, () => new Array<number>(4).fill(0));
  const atb = new Array<number>(4).fill(0);
  const addRow = (row: number[], rhs: number) => {
    for (let i = 0; i < 4; i++) { atb[i] += row[i] * rhs; for (let j = 0; j < 4; j++) ata[i][j] += row[i] * row[j]; }
  };
  for (let i = 0; i < from.length; i++) {
    const [x, y] = from[i];
    addRow([x, -y, 1, 0], to[i][0]);
    addRow([y, x, 0, 1], to[i][1]);
  }
  // Gaussian elimination with partial pivoting
  const m = ata.map((r, i) => [...r, atb[i]]);
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k < 5; k++) m[r][k] -= f * m[c][k];
    }
  }
  const sol = m.map((r, i) => r[4] / r[i]);
  return { a: sol[0], b: sol[1], tx: sol[2], ty: sol[3] };
}

const sse = (m: Similarity, from: readonly Point[], to: readonly Point[]) =>
  from.reduce((s, p, i) => { const q = applySimilarity(m, p); return s + (q[0] - to[i][0]) ** 2 + (q[1] - to[i][1]) ** 2; }, 0);

const FACE_PTS: Point[] = [[30, 40], [70, 38], [50, 62], [34, 84], [68, 83]];

describe('estimateSimilarity / applySimilarity', () => {
  test('recovers a known rotation + scale + translation exactly from 5 points', () => {
    for (const [deg, s, t] of [[20, 1.7, [12.5, -40]], [-135, 0.31, [400, 7]], [0, 1, [0, 0]], [90, 3, [-5, 5]]] as [number, number, Point][]) {
      const f = transform(deg, s, t);
      const m = estimateSimilarity(FACE_PTS, FACE_PTS.map(f));
      const th = (deg * Math.PI) / 180;
      close(m.a, s * Math.cos(th), 1e-9, `a (${deg}°)`);
      close(m.b, s * Math.sin(th), 1e-9, `b (${deg}°)`);
      close(m.tx, t[0], 1e-8, `tx (${deg}°)`);
      close(m.ty, t[1], 1e-8, `ty (${deg}°)`);
      close(similarityScale(m), s, 1e-9, 'scale');
      for (const p of [...FACE_PTS, [-100, 250] as Point]) {
        const q = applySimilarity(m, p), want = f(p);
        close(q[0], want[0], 1e-8, 'apply x');
        close(q[1], want[1], 1e-8, 'apply y');
      }
    }
  });

  test('applySimilarity follows p\' = (a·x − b·y + tx, b·x + a·y + ty)', () => {
    assert.deepEqual(applySimilarity({ a: 2, b: 3, tx: 5, ty: 7 }, [1, 1]), [2 - 3 + 5, 3 + 2 + 7]);
    assert.deepEqual(applySimilarity({ a: 0, b: 1, tx: 0, ty: 0 }, [1, 0]), [0, 1]); // +90° (y down: clockwise on screen)
  });

  test('is the least-squares fit under noise', () => {
    const rand = mulberry32(7);
    const f = transform(-25, 2.2, [60, 15]);
    for (let trial = 0; trial < 5; trial++) {
      const noisy = FACE_PTS.map((p): Point => { const q = f(p); return [q[0] + (rand() - 0.5) * 6, q[1] + (rand() - 0.5) * 6]; });
      const m = estimateSimilarity(FACE_PTS, noisy);
      const ref = normalEquationsFit(FACE_PTS, noisy);
      close(m.a, ref.a, 1e-9, 'a vs normal equations');
      close(m.b, ref.b, 1e-9, 'b vs normal equations');
      close(m.tx, ref.tx, 1e-7, 'tx vs normal equations');
      close(m.ty, ref.ty, 1e-7, 'ty vs normal equations');
      const best = sse(m, FACE_PTS, noisy);
      assert.ok(best > 0, 'noise leaves a residual');
      // the true (generating) transform is not better than the fit
      const th = (-25 * Math.PI) / 180;
      assert.ok(best <= sse({ a: 2.2 * Math.cos(th), b: 2.2 * Math.sin(th), tx: 60, ty: 15 }, FACE_PTS, noisy) + 1e-9);
      // nor is any small perturbation of any parameter
      for (const key of ['a', 'b', 'tx', 'ty'] as const) {
        for (const d of [1e-3, -1e-3, 0.05, -0.05]) {
          assert.ok(sse({ ...m, [key]: m[key] + d }, FACE_PTS, noisy) > best, `perturbing ${key} by ${d} lowers the residual`);
        }
      }
    }
  });

  test('errors', () => {
    assert.throws(() => estimateSimilarity(FACE_PTS, FACE_PTS.slice(0, 4)), /matching points/);
    assert.throws(() => estimateSimilarity([[1, 1]], [[2, 2]]), /matching points/);
    assert.throws(() => estimateSimilarity([[1, 1], [1, 1], [1, 1]], [[0, 0], [1, 0], [0, 1]]), /identical/);
  });
});

describe('templatePoints', () => {
  test('zoom 1, shift 0 is the unit template times the size', () => {
    for (const size of [64, 112, 150]) {
      const pts = templatePoints(size, { zoom: 1, shiftY: 0 });
      pts.forEach((p, i) => { close(p[0], TEMPLATE_5[i][0] * size, 1e-9); close(p[1], TEMPLATE_5[i][1] * size, 1e-9); });
    }
    // the ArcFace 112 template in pixels
    const p112 = templatePoints(112, { zoom: 1, shiftY: 0 });
    close(p112[0][0], 38.2946, 1e-9); close(p112[4][1], 92.2041, 1e-9);
  });

  test('zoom shrinks the face about the crop centre; shiftY moves it down by shiftY·size', () => {
    const size = 100;
    const base = templatePoints(size, { zoom: 1, shiftY: 0 });
    const zoomed = templatePoints(size, { zoom: 2, shiftY: 0 });
    zoomed.forEach((p, i) => {
      close(p[0] - 50, (base[i][0] - 50) / 2, 1e-9, 'x halved about centre');
      close(p[1] - 50, (base[i][1] - 50) / 2, 1e-9, 'y halved about centre');
    });
    const eyeDist = (pts: Point[]) => Math.hypot(pts[1][0] - pts[0][0], pts[1][1] - pts[0][1]);
    close(eyeDist(templatePoints(size, FRAMINGS.portrait)), eyeDist(base) / 1.55, 1e-9, 'portrait eye distance');
    const shifted = templatePoints(size, { zoom: 1, shiftY: 0.1 });
    shifted.forEach((p, i) => { close(p[0], base[i][0], 1e-9); close(p[1], base[i][1] + 10, 1e-9); });
    // recognition framing: eyes 15% of the crop higher than the ArcFace template
    const rec = templatePoints(150, FRAMINGS.recognition);
    close(rec[0][1], (51.6963 / 112 - 0.15) * 150, 1e-9);
    assert.ok(rec[0][0] < rec[1][0] && rec[2][1] > rec[0][1] && rec[3][1] > rec[2][1], 'left eye left of right eye, nose below eyes, mouth below nose');
  });
});

describe('fivePointsFrom68', () => {
  test('eye centres are the means of 36–41 / 42–47; nose 30; mouth corners 48 and 54', () => {
    const rand = mulberry32(3);
    const lm = Array.from({ length: 68 }, (): Point => [rand() * 200, rand() * 200]);
    const five = fivePointsFrom68(lm);
    assert.equal(five.length, 5);
    let lx = 0, ly = 0, rx = 0, ry = 0;
    for (const i of [36, 37, 38, 39, 40, 41]) { lx += lm[i][0] / 6; ly += lm[i][1] / 6; }
    for (const i of [42, 43, 44, 45, 46, 47]) { rx += lm[i][0] / 6; ry += lm[i][1] / 6; }
    close(five[0][0], lx, 1e-9); close(five[0][1], ly, 1e-9);
    close(five[1][0], rx, 1e-9); close(five[1][1], ry, 1e-9);
    assert.deepEqual(five[2], lm[30]);
    assert.deepEqual(five[3], lm[48]);
    assert.deepEqual(five[4], lm[54]);
    // a copy, not the caller's arrays
    five[2][0] = -1;
    assert.notEqual(lm[30][0], -1);
  });

  test('wrong landmark count throws', () => {
    assert.throws(() => fivePointsFrom68(Array.from({ length: 67 }, (): Point => [0, 0])), /68/);
    assert.throws(() => fivePointsFrom68([]), /68/);
  });
});

describe('alignFace', () => {
  const randomImage = (w: number, h: number, seed: number): RgbImage => {
    const rand = mulberry32(seed);
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
    return { data, width: w, height: h };
  };

  test('landmarks on the template of the same size: output is the input, pixel for pixel', () => {
    const framing = FRAMINGS.portrait;
    const img = randomImage(64, 64, 1);
    const out = alignFace(img, templatePoints(64, framing), 64, framing);
    assert.equal(out.width, 64); assert.equal(out.height, 64);
    assert.deepEqual(Buffer.from(out.data), Buffer.from(img.data));
  });

  test('an integer translation crops the source exactly', () => {
    const framing = FRAMINGS.recognition;
    const img = randomImage(120, 100, 2);
    const dx = 17, dy = 9, size = 64;
    const out = alignFace(img, templatePoints(size, framing).map(([x, y]): Point => [x + dx, y + dy]), size, framing);
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) for (let c = 0; c < 3; c++) {
      assert.equal(out.data[(i * size + j) * 3 + c], img.data[((i + dy) * 120 + j + dx) * 3 + c], `pixel ${i},${j}`);
    }
  });

  // Source image with one anti-aliased coloured disc per landmark (source pixel k covers [k, k+1)).
  const COLOURS: [number, number, number][] = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]];
  function dotsImage(w: number, h: number, centres: Point[], radius: number): RgbImage {
    const data = new Uint8Array(w * h * 3);
    const ss = 4;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      centres.forEach(([cx, cy], d) => {
        if (Math.abs(x + 0.5 - cx) > radius + 1 || Math.abs(y + 0.5 - cy) > radius + 1) return;
        let cover = 0;
        for (let a = 0; a < ss; a++) for (let b = 0; b < ss; b++) {
          if (Math.hypot(x + (b + 0.5) / ss - cx, y + (a + 0.5) / ss - cy) <= radius) cover++;
        }
        const v = Math.round((255 * cover) / (ss * ss));
        for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.max(data[(y * w + x) * 3 + c], COLOURS[d][c] * v);
      });
    }
    return { data, width: w, height: h };
  }

  /** Intensity-weighted centroid (pixel centres at +0.5) of each dot, classified by hue. */
  function dotCentroids(img: RgbImage): Point[] {
    const acc = COLOURS.map(() => ({ x: 0, y: 0, w: 0 }));
    for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
      const o = (y * img.width + x) * 3;
      const px = [img.data[o], img.data[o + 1], img.data[o + 2]];
      const m = Math.max(...px);
      if (m < 8) continue;
      const hue = px.map((v) => v / m);
      let best = 0, bestD = Infinity;
      COLOURS.forEach((col, d) => { const dist = col.reduce((s, v, c) => s + (v - hue[c]) ** 2, 0); if (dist < bestD) { bestD = dist; best = d; } });
      acc[best].x += (x + 0.5) * m; acc[best].y += (y + 0.5) * m; acc[best].w += m;
    }
    return acc.map((a, d) => { assert.ok(a.w > 0, `dot ${d} missing from the crop`); return [a.x / a.w, a.y / a.w]; });
  }

  for (const { size, framing, scale, tol } of [
    { size: 64, framing: FRAMINGS.portrait, scale: 4.0, tol: 0.35 }, // strong shrink: k×k supersampling
    { size: 112, framing: FRAMINGS.recognition, scale: 1.2, tol: 0.35 },
    { size: 150, framing: FRAMINGS.recognition, scale: 0.6, tol: 0.35 }, // enlargement
  ]) {
    test(`rotated by 20°: dots land on the template (size ${size}, ${scale} source px per output px)`, () => {
      const tpl = templatePoints(size, framing);
      // source landmarks = known similarity applied to the template (output → source)
      const toSource = transform(20, scale, [40, 25]);
      const src = tpl.map(toSource);
      const w = Math.ceil(Math.max(...src.map((p) => p[0])) + 40), h = Math.ceil(Math.max(...src.map((p) => p[1])) + 40);
      const radius = Math.max(3, 1.5 * scale);
      const img = dotsImage(w, h, src, radius);
      const out = alignFace(img, src, size, framing);
      assert.equal(out.width, size); assert.equal(out.height, size);
      assert.equal(out.data.length, size * size * 3);
      const got = dotCentroids(out);
      got.forEach((p, i) => {
        close(p[0], tpl[i][0], tol, `dot ${i} x`);
        close(p[1], tpl[i][1], tol, `dot ${i} y`);
      });
    });
  }

  test('a strong shrink averages (no aliasing): 1-px stripes become flat grey', () => {
    // 1-pixel black/white stripes; the crop shrinks them 4x and rotates them 20°. Sampling one point
    // per output pixel would give a moiré of near-black and near-white pixels.
    const w = 400, h = 400;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill(x % 2 ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const size = 64, framing = FRAMINGS.portrait;
    const src = templatePoints(size, framing).map(transform(20, 4, [120, 60]));
    const out = alignFace({ data, width: w, height: h }, src, size, framing);
    let sum = 0, sum2 = 0;
    for (let i = 0; i < out.data.length; i += 3) { sum += out.data[i]; sum2 += out.data[i] ** 2; }
    const n = out.data.length / 3, mean = sum / n, sd = Math.sqrt(sum2 / n - mean * mean);
    close(mean, 127.5, 8, 'mean grey');
    assert.ok(sd < 20, `stripes should average out, sd ${sd.toFixed(1)}`);
  });

  test('output size is any integer in range; invalid sizes throw', () => {
    const img = randomImage(80, 80, 4);
    const lm = templatePoints(80, FRAMINGS.portrait);
    for (const size of [8, 63, 64, 101, 150]) {
      const out = alignFace(img, lm, size);
      assert.equal(out.width, size); assert.equal(out.height, size); assert.equal(out.data.length, size * size * 3);
    }
    for (const size of [0, 7, -64, 64.5, Number.NaN, 2049, Infinity]) {
      assert.throws(() => alignFace(img, lm, size), /size must be an integer/, `size ${size}`);
    }
  });
});

describe('fitFraming', () => {
  // landmarks of a face placed by the template at `zoom` in a square photo of side `side`
  const face = (side: number, zoom: number, shiftY = 0): Point[] => templatePoints(side, { zoom, shiftY });
  const corners = (lm: Point[], size: number, f: { zoom: number; shiftY: number }) => {
    const m = estimateSimilarity(templatePoints(size, f), lm);
    return ([[0, 0], [size, 0], [0, size], [size, size]] as Point[]).map((c) => applySimilarity(m, c));
  };

  test('a photo that holds the portrait framing keeps it', () => {
    const lm = face(400, 3.0); // a small face in a big photo
    assert.deepEqual(fitFraming(lm, 400, 400, 64, FRAMINGS.portrait), FRAMINGS.portrait);
  });

  test('a tight photo moves towards the tight framing just far enough to stay inside', () => {
    const lm = face(200, 1.2, -0.05); // a close chip, like UTKFace's
    const f = fitFraming(lm, 200, 200, 64, FRAMINGS.portrait);
    assert.ok(f.zoom < FRAMINGS.portrait.zoom && f.zoom > FRAMINGS.tight.zoom, JSON.stringify(f));
    for (const [x, y] of corners(lm, 64, f)) assert.ok(x >= -1e-9 && y >= -1e-9 && x <= 200 + 1e-9 && y <= 200 + 1e-9, `corner ${x},${y} outside`);
    // a little less tight would leave the photo (the search is not lazy)
    const looser = { zoom: f.zoom + 0.03, shiftY: f.shiftY + 0.03 * (FRAMINGS.portrait.shiftY - FRAMINGS.tight.shiftY) / (FRAMINGS.portrait.zoom - FRAMINGS.tight.zoom) };
    assert.ok(corners(lm, 64, looser).some(([x, y]) => x < 0 || y < 0 || x > 200 || y > 200));
  });

  test('a photo too tight for any framing gets the tightest one', () => {
    const lm = face(100, 0.5); // the face fills more than the photo
    assert.deepEqual(fitFraming(lm, 100, 100, 64, FRAMINGS.portrait), FRAMINGS.tight);
  });
});
