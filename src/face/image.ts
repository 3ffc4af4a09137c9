// Decoding real-world photos to 8-bit sRGB pixels with sharp: EXIF orientation, grayscale,
// CMYK, alpha and 16-bit inputs all end up as plain RGB bytes.
import sharp from 'sharp';
import { ImageDecodeError, ImageTooLargeError, ImageTooSmallError } from './errors.js';
import { DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, type DecodeOptions, type ImageOps, type RgbImage } from './rgb-image.js';

export { DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, type DecodeOptions, type ImageOps, type RgbImage } from './rgb-image.js';

export async function decodeImage(input: string | Uint8Array, opts: DecodeOptions = {}): Promise<RgbImage> {
  const name = opts.name ?? (typeof input === 'string' ? input : 'image');
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const minSide = opts.minSide ?? DEFAULT_MIN_SIDE;
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    // limitInputPixels makes sharp refuse bombs before decoding; we check again for a clear error.
    meta = await sharp(input, { limitInputPixels: false, failOn: 'error' }).metadata();
  } catch (err) {
    throw new ImageDecodeError(name, (err as Error).message);
  }
  if (!meta.width || !meta.height) throw new ImageDecodeError(name, 'no dimensions');
  const pixels = meta.width * meta.height;
  if (pixels > maxPixels) throw new ImageTooLargeError(name, pixels, maxPixels);
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate() // apply EXIF orientation
      .toColourspace('srgb') // grayscale, CMYK and 16-bit become 8-bit sRGB
      .flatten({ background: { r: 255, g: 255, b: 255 } }) // alpha over white
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels`);
    if (Math.min(info.width, info.height) < minSide) throw new ImageTooSmallError(name, info.width, info.height, minSide);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof ImageTooSmallError) throw err;
    throw new ImageDecodeError(name, (err as Error).message);
  }
}

/** Resize RGB pixels with sharp (lanczos3); used to shrink big photos for detection. */
export async function resizeRgb(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

export async function encodeJpeg(img: RgbImage, quality = 92): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality, mozjpeg: false }).toBuffer();
}

export async function encodePng(img: RgbImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
}

/** A copy with a mirrored border of `pad` pixels on every side. */
export async function padMirror(img: RgbImage, pad: number): Promise<RgbImage> {
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extend({ top: pad, bottom: pad, left: pad, right: pad, extendWith: 'mirror' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Node's image code for face analysis (sharp). */
export const sharpImageOps: ImageOps = { decode: decodeImage, resize: resizeRgb, padMirror };
