// x_0 tensors -> PNG (sharp), and contact-sheet grids.
import sharp from 'sharp';

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

/** Deterministic PNG encoding (fixed settings, no metadata). */
export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: number): Promise<Buffer> {
  if (![1, 3, 4].includes(channels)) throw new Error(`cannot write a PNG with ${channels} channels`);
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), {
    raw: { width, height, channels: channels as 1 | 3 | 4 },
  })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

/** Lay PNGs out in a grid (columns default ceil(sqrt(n))), with a `gap` px border. */
export async function makeGrid(pngs: Buffer[], opts: { columns?: number; gap?: number } = {}): Promise<Buffer> {
  if (pngs.length === 0) throw new Error('grid: no images');
  const meta = await sharp(pngs[0]).metadata();
  const w = meta.width!;
  const h = meta.height!;
  const cols = opts.columns ?? Math.ceil(Math.sqrt(pngs.length));
  const rows = Math.ceil(pngs.length / cols);
  const gap = opts.gap ?? 2;
  return sharp({
    create: { width: cols * w + (cols + 1) * gap, height: rows * h + (rows + 1) * gap, channels: 3, background: { r: 255, g: 255, b: 255 } },
  })
    .composite(pngs.map((input, i) => ({ input, left: gap + (i % cols) * (w + gap), top: gap + Math.floor(i / cols) * (h + gap) })))
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}
