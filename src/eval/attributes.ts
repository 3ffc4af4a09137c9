// The evaluation's attribute classifier (DESIGN.md: prompt fidelity needs "a classifier not used
// in generation"): a small CNN trained on the CelebA crops of the augmented dataset by
// `python -m face0_trainer attributes`, shipped as models/attributes/{attributes.onnx,attributes.json}.
// Input: 64x64 RGB NCHW in [-1, 1], aligned like the training crops (alignFace, portrait framing)
// — which is exactly what the pipeline generates. Output: one logit per CelebA attribute; decision
// logit > 0. Derived names: Beard = NOT No_Beard, Old = NOT Young, Female = NOT Male.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { alignFace, FRAMINGS, type Point } from '../face/align.js';
import type { RgbImage } from '../face/image.js';

export const DEFAULT_ATTRIBUTE_MODEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'attributes');
export const CLASSIFIER_SIZE = 64;

/** Negations reported under their own name. */
export const DERIVED: Record<string, { of: string; negate: true }> = {
  Beard: { of: 'No_Beard', negate: true },
  Old: { of: 'Young', negate: true },
  Female: { of: 'Male', negate: true },
};

/** Attributes that face-api's nets cannot judge: the classifier is THE judge for these prompts. */
export const CLASSIFIER_ONLY = ['Eyeglasses', 'Wearing_Hat', 'Blond_Hair', 'Black_Hair', 'Gray_Hair', 'Brown_Hair', 'Beard', 'No_Beard', 'Mustache', 'Bald', 'Heavy_Makeup'];

export interface AttributeModelInfo {
  attributes: string[];
  input?: { name?: string; shape?: (string | number)[]; pixel_range?: [number, number] };
  validation?: { identities?: number; samples?: number; identity_list?: string[]; per_attribute?: Record<string, { accuracy: number | null; balanced_accuracy: number | null; positives: number; n: number }> };
  trained_on?: Record<string, unknown> & { held_out_identity_list?: string[] };
  seconds?: number;
}

/** Logits of one image, by attribute name (the model's own names). */
export type AttributeLogits = Record<string, number>;

export class AttributeClassifier {
  private constructor(
    readonly dir: string,
    readonly info: AttributeModelInfo,
    private readonly session: ort.InferenceSession,
  ) {}

  static async load(dir: string = DEFAULT_ATTRIBUTE_MODEL_DIR, threads = 1): Promise<AttributeClassifier> {
    const onnx = join(dir, 'attributes.onnx'), json = join(dir, 'attributes.json');
    if (!existsSync(onnx) || !existsSync(json)) throw new Error(`no attribute classifier in ${dir} (attributes.onnx + attributes.json; train it with \`cd trainer && python -m face0_trainer attributes --data DATA --out ../models/attributes\`)`);
    const info = JSON.parse(readFileSync(json, 'utf8')) as AttributeModelInfo;
    if (!Array.isArray(info.attributes) || info.attributes.length === 0) throw new Error(`${json}: "attributes" must list the output names`);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    } catch (err) {
      throw new Error(`cannot load ${onnx}: ${(err as Error).message}`);
    }
    if (!session.inputNames.includes('image') || !session.outputNames.includes('logits')) throw new Error(`${onnx}: expected input "image" and output "logits", the graph has ${session.inputNames.join(', ')} -> ${session.outputNames.join(', ')}`);
    return new AttributeClassifier(dir, info, session);
  }

  /** The classifier, or null with the reason (missing folder, unreadable model). */
  static async tryLoad(dir: string = DEFAULT_ATTRIBUTE_MODEL_DIR, threads = 1): Promise<{ classifier: AttributeClassifier | null; error: string | null }> {
    try {
      return { classifier: await AttributeClassifier.load(dir, threads), error: null };
    } catch (e) {
      return { classifier: null, error: (e as Error).message };
    }
  }

  get attributes(): string[] {
    return this.info.attributes;
  }

  /** Can this classifier decide `attr` (a model output or a derived negation)? */
  has(attr: string): boolean {
    const d = DERIVED[attr];
    return this.info.attributes.includes(d ? d.of : attr);
  }

  /** Decision for `attr` from the logits; undefined when the classifier lacks it. */
  decide(logits: AttributeLogits, attr: string): boolean | undefined {
    const d = DERIVED[attr];
    const v = logits[d ? d.of : attr];
    if (v === undefined) return undefined;
    return d ? !(v > 0) : v > 0;
  }

  /** Images as [N][3*64*64] CHW floats in [-1, 1] (e.g. the pipeline's `pixels`; clamped). */
  async classifyPixels(images: Float32Array[]): Promise<AttributeLogits[]> {
    if (images.length === 0) return [];
    const px = 3 * CLASSIFIER_SIZE * CLASSIFIER_SIZE;
    const x = new Float32Array(images.length * px);
    images.forEach((im, i) => {
      if (im.length !== px) throw new Error(`attribute classifier: expected ${px} values (3x${CLASSIFIER_SIZE}x${CLASSIFIER_SIZE} CHW), got ${im.length}`);
      for (let k = 0; k < px; k++) {
        const v = im[k];
        x[i * px + k] = Number.isFinite(v) ? Math.max(-1, Math.min(1, v)) : 0;
      }
    });
    const out = await this.session.run({ image: new ort.Tensor('float32', x, [images.length, 3, CLASSIFIER_SIZE, CLASSIFIER_SIZE]) });
    const data = out.logits.data as Float32Array;
    const A = this.info.attributes.length;
    if (data.length !== images.length * A) throw new Error(`attribute classifier: ${data.length} logits for ${images.length} images x ${A} attributes`);
    return images.map((_, i) => Object.fromEntries(this.info.attributes.map((a, j) => [a, data[i * A + j]])));
  }

  /** A real photo: aligned with the face's 5 landmarks exactly like the training crops. */
  async classifyFace(img: RgbImage, landmarks5: readonly Point[]): Promise<AttributeLogits> {
    return (await this.classifyPixels([alignedPixels(img, landmarks5)]))[0];
  }

  close(): void {
    void this.session.release?.();
  }
}

/** 64x64 portrait crop (src/data/augment/process.ts) as CHW floats in [-1, 1]. */
export function alignedPixels(img: RgbImage, landmarks5: readonly Point[]): Float32Array {
  return rgbToChw(alignFace(img, landmarks5, CLASSIFIER_SIZE, FRAMINGS.portrait));
}

/** Interleaved RGB bytes -> CHW floats in [-1, 1]. */
export function rgbToChw(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[c * n + p] = img.data[3 * p + c] / 127.5 - 1;
  return out;
}

export interface ClassifierAccuracy { accuracy: number | null; balanced_accuracy: number | null; positives: number; n: number }

/** Accuracy and balanced accuracy (mean of TPR and TNR; null when a class is absent) of decisions vs labels. */
export function classifierAccuracy(pairs: { pred: boolean; truth: boolean }[]): ClassifierAccuracy {
  const n = pairs.length;
  const pos = pairs.filter((p) => p.truth);
  const neg = pairs.filter((p) => !p.truth);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  const tpr = pos.length ? pos.filter((p) => p.pred).length / pos.length : null;
  const tnr = neg.length ? neg.filter((p) => !p.pred).length / neg.length : null;
  return {
    accuracy: n ? r(pairs.filter((p) => p.pred === p.truth).length / n) : null,
    balanced_accuracy: tpr !== null && tnr !== null ? r((tpr + tnr) / 2) : null,
    positives: pos.length,
    n,
  };
}
