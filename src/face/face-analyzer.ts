// Face analysis: detect every face (box, score, 68 + 5 landmarks), align, and embed into the
// 128-D identity space of face-api's recognition network. Runtime-neutral: face-api (a build of
// it with TensorFlow.js ready) and the image code come in; src/face/analyzer.ts gives Node's
// (node-wasm build, sharp), src/web/ the browser's (esm build, canvas).
import type { FaceApi } from './face-api-types.js';
import { alignFace, fivePointsFrom68, FRAMINGS, type Framing, type Point } from './align.js';
import type { DecodeOptions, ImageOps, RgbImage } from './rgb-image.js';
import { FaceIndexError, NoFaceError } from './errors.js';
import { normalize } from '../identity/vec.js';

export interface DetectedFace {
  box: [number, number, number, number]; // x, y, width, height in source pixels
  score: number;
  landmarks68: Point[];
  landmarks5: Point[];
}

export interface FaceAnalyzerOptions extends DecodeOptions {
  /** Fast tiny-YOLO detector first; `ssd` uses SSD-MobileNet only (slower, more recall). */
  detector?: 'tiny' | 'ssd';
  /** Tiny detector input size (multiple of 32). */
  tinyInputSize?: number;
  minScore?: number;
  /** When the tiny detector finds nothing, retry with SSD-MobileNet. */
  fallbackToSsd?: boolean;
  /** Photos larger than this on their longer side are shrunk for detection (crops come from the original). */
  detectMaxSide?: number;
}

export interface FaceAnalysis {
  image: RgbImage;
  faces: DetectedFace[]; // largest first
  faceIndex: number;
  face: DetectedFace;
  embedding: Float32Array;
  embedder: string;
  warnings: string[];
}

export const EMBEDDING_DIM = 128;
const EMBED_SIZE = 150; // the recognition net's native input
const SMALL_FACE_PX = 40;

/** Identifies the embedding network and the alignment feeding it; bundles refuse any other. */
export function embedderIdOf(faceApiVersion: string, framing: Framing = FRAMINGS.recognition): string {
  return `face-api@${faceApiVersion}/faceRecognitionNet/align5-z${framing.zoom}-y${framing.shiftY}`;
}

export function l2normalize(v: Float32Array): Float32Array {
  return normalize(v, 'face embedding');
}

export class FaceAnalysisCore {
  readonly embedderId: string;
  private readonly opts: Required<Omit<FaceAnalyzerOptions, 'name'>>;

  constructor(
    private readonly api: FaceApi,
    private readonly images: ImageOps,
    opts: FaceAnalyzerOptions = {},
    private readonly recognition: Framing = FRAMINGS.recognition,
  ) {
    this.opts = {
      detector: opts.detector ?? 'tiny',
      tinyInputSize: opts.tinyInputSize ?? 224,
      minScore: opts.minScore ?? 0.5,
      fallbackToSsd: opts.fallbackToSsd ?? true,
      detectMaxSide: opts.detectMaxSide ?? 800,
      maxPixels: opts.maxPixels ?? 40_000_000,
      minSide: opts.minSide ?? 32,
    };
    this.embedderId = embedderIdOf(api.version, recognition);
  }

  decode(input: string | Uint8Array, name?: string): Promise<RgbImage> {
    return this.images.decode(input, { maxPixels: this.opts.maxPixels, minSide: this.opts.minSide, name });
  }

  /**
   * All faces in the image, largest first, in source-pixel coordinates. A cascade: the tiny
   * detector on the photo; if it finds nothing, again on a copy with a 25% mirrored border
   * (tightly cropped faces, as in UTKFace, are otherwise missed: 84 → 138 of 150 found, measured
   * in scratch); finally SSD-MobileNet (10x slower, so only as a last resort).
   */
  async detect(img: RgbImage): Promise<DetectedFace[]> {
    const longest = Math.max(img.width, img.height);
    const shrink = longest > this.opts.detectMaxSide ? this.opts.detectMaxSide / longest : 1;
    const view = shrink < 1 ? await this.images.resize(img, Math.round(img.width * shrink), Math.round(img.height * shrink)) : img;
    const tiny = (inputSize: number) => new this.api.TinyFaceDetectorOptions({ inputSize, scoreThreshold: this.opts.minScore });
    const passes: { pad: number; options: () => unknown }[] = [];
    if (this.opts.detector === 'tiny') {
      passes.push({ pad: 0, options: () => tiny(this.opts.tinyInputSize) });
      passes.push({ pad: 0.25, options: () => tiny(160) });
    }
    if (this.opts.detector === 'ssd' || this.opts.fallbackToSsd) {
      passes.push({ pad: 0, options: () => new this.api.SsdMobilenetv1Options({ minConfidence: this.opts.minScore }) });
    }
    for (const pass of passes) {
      const faces = await this.detectPass(view, pass.pad, pass.options());
      if (faces.length > 0) {
        const sx = img.width / view.width, sy = img.height / view.height;
        return faces.map((f) => scaleFace(f, sx, sy)).sort((p, q) => q.box[2] * q.box[3] - p.box[2] * p.box[3]);
      }
    }
    return [];
  }

  private async detectPass(img: RgbImage, padFraction: number, options: unknown): Promise<DetectedFace[]> {
    const pad = Math.round(Math.min(img.width, img.height) * padFraction);
    const input = pad > 0 ? await this.images.padMirror(img, pad) : img;
    const tensor = this.api.tf.tensor3d(input.data, [input.height, input.width, 3], 'int32');
    try {
      const raw = await this.api.detectAllFaces(tensor, options).withFaceLandmarks();
      return raw
        .map((d): DetectedFace => {
          const lm = d.landmarks.positions.map((p): Point => [p.x - pad, p.y - pad]);
          const b = d.detection.box;
          return { box: [b.x - pad, b.y - pad, b.width, b.height], score: d.detection.score, landmarks68: lm, landmarks5: fivePointsFrom68(lm) };
        })
        // a face seen in the mirrored border is a reflection, not a second person
        .filter((f) => { const cx = f.box[0] + f.box[2] / 2, cy = f.box[1] + f.box[3] / 2; return cx >= 0 && cy >= 0 && cx < img.width && cy < img.height; });
    } finally {
      tensor.dispose();
    }
  }

  /** Embedding of an already aligned crop (any size; the net resizes to 150). */
  async embedAligned(crop: RgbImage): Promise<Float32Array> {
    const tensor = this.api.tf.tensor3d(crop.data, [crop.height, crop.width, 3], 'int32');
    try {
      const out = await this.api.computeFaceDescriptor(tensor);
      return l2normalize(Array.isArray(out) ? out[0] : out);
    } finally {
      tensor.dispose();
    }
  }

  async embedFace(img: RgbImage, face: DetectedFace): Promise<Float32Array> {
    return this.embedAligned(alignFace(img, face.landmarks5, EMBED_SIZE, this.recognition));
  }

  /** Decode, detect, pick a face (largest by default) and embed it. */
  async analyze(input: string | Uint8Array | RgbImage, opts: { faceIndex?: number; name?: string } = {}): Promise<FaceAnalysis> {
    const name = opts.name ?? (typeof input === 'string' ? input : 'image');
    const image = isRgb(input) ? input : await this.decode(input, name);
    const faces = await this.detect(image);
    if (faces.length === 0) throw new NoFaceError(name);
    const faceIndex = opts.faceIndex ?? 0;
    if (!Number.isInteger(faceIndex) || faceIndex < 0 || faceIndex >= faces.length) throw new FaceIndexError(name, faceIndex, faces.length);
    const face = faces[faceIndex];
    const warnings: string[] = [];
    if (faces.length > 1) warnings.push(`${name}: ${faces.length} faces found, using face ${faceIndex} (${faceIndex === 0 ? 'the largest' : 'by index'})`);
    if (Math.min(face.box[2], face.box[3]) < SMALL_FACE_PX) warnings.push(`${name}: the face is only ${Math.round(face.box[2])}px wide; identity may be unreliable`);
    const embedding = await this.embedFace(image, face);
    return { image, faces, faceIndex, face, embedding, embedder: this.embedderId, warnings };
  }

  /** The pipeline's view: an embedding plus what the user should know. */
  async embedImage(input: string | Uint8Array, opts: { faceIndex?: number; name?: string } = {}) {
    const a = await this.analyze(input, opts);
    return { embedding: a.embedding, embedder: a.embedder, faceCount: a.faces.length, faceIndex: a.faceIndex, box: a.face.box, score: a.face.score, warnings: a.warnings };
  }

  /** Live tensors in the tfjs engine (a leak check for long runs and tests). */
  tensorCount(): number {
    return this.api.tf.memory().numTensors;
  }

  close(): void {
    // Models stay loaded for the thread's lifetime (face-api keeps them in module state).
  }
}

function scaleFace(f: DetectedFace, sx: number, sy: number): DetectedFace {
  if (sx === 1 && sy === 1) return f;
  const lm = f.landmarks68.map(([x, y]): Point => [x * sx, y * sy]);
  return { box: [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy], score: f.score, landmarks68: lm, landmarks5: fivePointsFrom68(lm) };
}

function isRgb(x: unknown): x is RgbImage {
  return typeof x === 'object' && x !== null && 'data' in x && 'width' in x && !(x instanceof Uint8Array);
}
