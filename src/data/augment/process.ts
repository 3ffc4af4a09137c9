// One image through the face pipeline: decode → detect → keep exactly one large face → aligned
// portrait crop (JPEG) + identity embedding. Returns the reason when the image is dropped.
import { alignFace, fitFraming, FRAMINGS, type Framing } from '../../face/align.js';
import type { FaceAnalyzer } from '../../face/analyzer.js';
import { encodeJpeg } from '../../face/image.js';
import { FaceInputError } from '../../face/errors.js';

export interface ProcessOptions {
  size: number;
  /** Faces whose box is smaller than this (px, shorter side) do not count. */
  minFace: number;
  jpegQuality: number;
}

export type DropReason = 'decode_error' | 'image_too_small' | 'image_too_large' | 'no_face' | 'face_too_small' | 'multiple_faces';

export type ProcessResult =
  | { ok: true; jpg: Uint8Array; embedding: Float32Array; score: number; box: number[]; landmarks5: number[][]; faces: number; embedder: string; framing: Framing }
  | { ok: false; reason: DropReason; detail?: string };

const DROP_CODES: Record<string, DropReason> = { image_decode: 'decode_error', image_too_small: 'image_too_small', image_too_large: 'image_too_large', no_face: 'no_face' };

export async function processImage(analyzer: FaceAnalyzer, bytes: Buffer, name: string, opts: ProcessOptions): Promise<ProcessResult> {
  let image;
  try {
    image = await analyzer.decode(bytes, name);
  } catch (err) {
    if (err instanceof FaceInputError) return { ok: false, reason: DROP_CODES[err.code] ?? 'decode_error', detail: err.message };
    throw err;
  }
  const faces = await analyzer.detect(image);
  if (faces.length === 0) return { ok: false, reason: 'no_face' };
  const large = faces.filter((f) => Math.min(f.box[2], f.box[3]) >= opts.minFace);
  if (large.length === 0) return { ok: false, reason: 'face_too_small' };
  if (large.length > 1) return { ok: false, reason: 'multiple_faces' };
  const face = large[0];
  // the portrait framing, zoomed in where the photo is too tight for it (no clamped borders)
  const framing = fitFraming(face.landmarks5, image.width, image.height, opts.size, FRAMINGS.portrait);
  const crop = alignFace(image, face.landmarks5, opts.size, framing);
  const jpg = await encodeJpeg(crop, opts.jpegQuality);
  const embedding = await analyzer.embedFace(image, face);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { ok: true, jpg: new Uint8Array(jpg), embedding, score: r(face.score), box: face.box.map(r), landmarks5: face.landmarks5.map(([x, y]) => [r(x), r(y)]), faces: faces.length, embedder: analyzer.embedderId, framing };
}
