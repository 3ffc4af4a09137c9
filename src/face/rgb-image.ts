// Decoded photos as plain RGB bytes, and what decoding may refuse (runtime-neutral: src/face/image.ts
// decodes with sharp in Node, src/web/image-ops.ts with the browser's decoders).
export interface RgbImage {
  data: Uint8Array; // interleaved RGB, row-major
  width: number;
  height: number;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (decompression bombs). Default 40 MP. */
  maxPixels?: number;
  /** Refuse images whose shorter side is below this. Default 32. */
  minSide?: number;
  /** Name used in error messages (a path, or e.g. "upload"). */
  name?: string;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;
export const DEFAULT_MIN_SIDE = 32;

/** What face analysis needs from a runtime's image code. */
export interface ImageOps {
  /** Encoded bytes (or, in Node, a file path) -> RGB; throws the FaceInputErrors of errors.ts. */
  decode(input: string | Uint8Array, opts: DecodeOptions): Promise<RgbImage>;
  /** Resize (used to shrink big photos for detection). */
  resize(img: RgbImage, width: number, height: number): Promise<RgbImage>;
  /** A copy with a mirrored border of `pad` pixels on every side. */
  padMirror(img: RgbImage, pad: number): Promise<RgbImage>;
}
