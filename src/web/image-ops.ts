// Face analysis's image code in the browser: the browser's own decoders (createImageBitmap) and a
// canvas, with the same refusals and messages as Node's sharp code (src/face/image.ts).
import { ImageDecodeError, ImageTooLargeError, ImageTooSmallError } from '../face/errors.js';
import { DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, type ImageOps, type RgbImage } from '../face/rgb-image.js';

function canvas2d(width: number, height: number): OffscreenCanvasRenderingContext2D {
  const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser has no 2D canvas');
  return ctx;
}

function rgbOf(rgba: Uint8ClampedArray, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    data[q] = rgba[p];
    data[q + 1] = rgba[p + 1];
    data[q + 2] = rgba[p + 2];
  }
  return { data, width, height };
}

function rgbaOf(img: RgbImage): ImageData {
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  for (let p = 0, q = 0; q < img.data.length; p += 4, q += 3) {
    rgba[p] = img.data[q];
    rgba[p + 1] = img.data[q + 1];
    rgba[p + 2] = img.data[q + 2];
    rgba[p + 3] = 255;
  }
  return new ImageData(rgba, img.width, img.height);
}

async function decode(input: string | Uint8Array, opts: { maxPixels?: number; minSide?: number; name?: string }): Promise<RgbImage> {
  const name = opts.name ?? (typeof input === 'string' ? input : 'image');
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const minSide = opts.minSide ?? DEFAULT_MIN_SIDE;
  let blob: Blob;
  if (typeof input === 'string') {
    const res = await fetch(input);
    if (!res.ok) throw new ImageDecodeError(name, `HTTP ${res.status}`);
    blob = await res.blob();
  } else blob = new Blob([input as Uint8Array<ArrayBuffer>]);
  let bitmap: ImageBitmap;
  try {
    // EXIF orientation applied, as sharp's rotate() does
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch (err) {
    throw new ImageDecodeError(name, (err as Error).message || 'not an image the browser can decode');
  }
  try {
    const { width, height } = bitmap;
    if (!width || !height) throw new ImageDecodeError(name, 'no dimensions');
    if (width * height > maxPixels) throw new ImageTooLargeError(name, width * height, maxPixels);
    if (Math.min(width, height) < minSide) throw new ImageTooSmallError(name, width, height, minSide);
    const ctx = canvas2d(width, height);
    ctx.fillStyle = '#fff'; // alpha over white, as in Node
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(bitmap, 0, 0);
    return rgbOf(ctx.getImageData(0, 0, width, height).data, width, height);
  } finally {
    bitmap.close();
  }
}

async function resize(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  const src = canvas2d(img.width, img.height);
  src.putImageData(rgbaOf(img), 0, 0);
  const dst = canvas2d(width, height);
  dst.imageSmoothingEnabled = true;
  dst.imageSmoothingQuality = 'high';
  dst.drawImage(src.canvas, 0, 0, width, height);
  return rgbOf(dst.getImageData(0, 0, width, height).data, width, height);
}

/** Mirrored border with the edge pixel repeated (libvips' "mirror", what Node's sharp does). */
async function padMirror(img: RgbImage, pad: number): Promise<RgbImage> {
  const w = img.width, h = img.height, W = w + 2 * pad, H = h + 2 * pad;
  const reflect = (i: number, n: number) => {
    let k = i;
    for (;;) {
      if (k < 0) k = -k - 1;
      else if (k >= n) k = 2 * n - k - 1;
      else return k;
    }
  };
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = reflect(y - pad, h);
    for (let x = 0; x < W; x++) {
      const s = (sy * w + reflect(x - pad, w)) * 3, d = (y * W + x) * 3;
      data[d] = img.data[s];
      data[d + 1] = img.data[s + 1];
      data[d + 2] = img.data[s + 2];
    }
  }
  return { data, width: W, height: H };
}

export const browserImageOps: ImageOps = { decode, resize, padMirror };
