// x_0 tensors -> PNG (sharp, Node), and contact-sheet grids.
import sharp from 'sharp';

export { toUint8Hwc } from './pixels.js';

/** A Buffer view of bytes (no copy): sharp and Node APIs want Buffers, the pipeline gives Uint8Arrays. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
export async function makeGrid(pngs: Uint8Array[], opts: { columns?: number; gap?: number } = {}): Promise<Buffer> {
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
    .composite(pngs.map((png, i) => ({ input: asBuffer(png), left: gap + (i % cols) * (w + gap), top: gap + Math.floor(i / cols) * (h + gap) })))
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}
