// Everything `face0 eval` asks of an image: is there a face; its embedding with the conditioning
// network (face-api recognition) and with the independent evaluation network; and the attribute
// judges (face-api's age/gender and expression nets — not used in generation).
import sharp from 'sharp';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { loadFaceApi, type FaceApi } from '../face/backend.js';
import { FaceAnalyzer, type DetectedFace } from '../face/analyzer.js';
import { decodeImage, type RgbImage } from '../face/image.js';
import { EvalNet } from './eval-net.js';

const require = createRequire(import.meta.url);

export interface JudgedAttributes {
  age: number;
  male: boolean;
  maleProbability: number;
  happy: number;
}

export interface ImageJudgement {
  face: boolean;
  cond: Float32Array | null;
  eval: Float32Array | null;
  attrs: JudgedAttributes | null;
}

/** Attributes the judges can score, from their raw outputs. Young: judged age < 35; Old: ≥ 45. */
export const JUDGED: Record<string, (a: JudgedAttributes) => boolean> = {
  Smiling: (a) => a.happy >= 0.5,
  Male: (a) => a.male,
  Female: (a) => !a.male,
  Young: (a) => a.age < 35,
  Old: (a) => a.age >= 45,
};
export const AGE_GROUPS = ['<30', '30-45', '45+'] as const;
export function ageGroup(age: number): (typeof AGE_GROUPS)[number] {
  return age < 30 ? '<30' : age < 45 ? '30-45' : '45+';
}

interface ExtraNets {
  ageGenderNet: { predictAgeAndGender(t: unknown): Promise<unknown> };
  faceExpressionNet: { predictExpressions(t: unknown): Promise<unknown> };
}

export class Judges {
  private constructor(
    readonly analyzer: FaceAnalyzer,
    readonly evalNet: EvalNet | null,
    readonly evalNetError: string | null,
    private readonly api: FaceApi,
  ) {}

  static async create(evalNetName: string | null = 'faceres'): Promise<Judges> {
    const analyzer = await FaceAnalyzer.create();
    const api = await loadFaceApi();
    const modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    for (const net of ['ageGenderNet', 'faceExpressionNet']) if (!api.nets[net].isLoaded) await api.nets[net].loadFromDisk(modelDir);
    let evalNet: EvalNet | null = null, err: string | null = null;
    if (evalNetName) {
      try {
        evalNet = await EvalNet.create(evalNetName, analyzer);
      } catch (e) {
        err = (e as Error).message;
      }
    } else err = 'disabled';
    return new Judges(analyzer, evalNet, err, api);
  }

  /** Generated images are tiny: upscale (lanczos) to `side` before detection. */
  static async upscale(png: Buffer, side = 256): Promise<RgbImage> {
    const { data, info } = await sharp(png).removeAlpha().resize(side, side, { kernel: 'lanczos3', fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  }

  decode(path: string): Promise<RgbImage> {
    return decodeImage(path);
  }

  async judge(img: RgbImage, opts: { attributes?: boolean } = {}): Promise<ImageJudgement> {
    const faces = await this.analyzer.detect(img);
    if (faces.length === 0) return { face: false, cond: null, eval: null, attrs: null };
    const f = faces[0];
    const cond = await this.analyzer.embedFace(img, f);
    const ev = this.evalNet ? await this.evalNet.embedFace(img, f) : null;
    const attrs = opts.attributes === false ? null : await this.attributes(img, f);
    return { face: true, cond, eval: ev, attrs };
  }

  private async attributes(img: RgbImage, f: DetectedFace): Promise<JudgedAttributes> {
    const [x, y, w, h] = f.box;
    const left = Math.max(0, Math.floor(x)), top = Math.max(0, Math.floor(y));
    const width = Math.max(8, Math.min(img.width - left, Math.ceil(w))), height = Math.max(8, Math.min(img.height - top, Math.ceil(h)));
    const { data } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).extract({ left, top, width, height }).raw().toBuffer({ resolveWithObject: true });
    const t = this.api.tf.tensor3d(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), [height, width, 3], 'int32');
    try {
      const nets = this.api.nets as unknown as ExtraNets;
      const ag = (await nets.ageGenderNet.predictAgeAndGender(t)) as { age: number; gender: string; genderProbability: number } | { age: number; gender: string; genderProbability: number }[];
      const a = Array.isArray(ag) ? ag[0] : ag;
      const ex = (await nets.faceExpressionNet.predictExpressions(t)) as { happy: number } | { happy: number }[];
      const e = Array.isArray(ex) ? ex[0] : ex;
      const male = a.gender === 'male';
      return { age: a.age, male, maleProbability: male ? a.genderProbability : 1 - a.genderProbability, happy: e.happy };
    } finally {
      t.dispose();
    }
  }
}
