// What every measurement of `face0 eval` shares: the options and their defaults, the loaded
// networks, the people, and one generation helper (so speed and peak memory are recorded for every
// image the run makes, whichever measurement asked for it).
import type { CelebaRecord } from '../data/sources/celeba.js';
import type { Pipeline } from '../pipeline/generate.js';
import { asBuffer } from '../pipeline/image.js';
import { Judges, type ImageJudgement } from './judges.js';
import { CLASSIFIER_SIZE, rgbToChw, type AttributeClassifier, type AttributeLogits } from './attributes.js';
import type { Interval } from './metrics.js';

export interface PromptSpec { prompt: string; attribute: string | null }
export interface PromptSet { identity_prompt: string; prompts: PromptSpec[]; neutral: string[]; consistency: string[] }

export interface EvalOptions {
  bundleDir: string;
  dataDir: string;
  holdoutFile?: string;
  identities?: number;
  perIdentity?: number;
  /** random identities in the consistency measurement (default 4; quick 2; at least 2) */
  characters?: number;
  promptsFile?: string;
  outDir?: string;
  seed?: number;
  steps?: number;
  quick?: boolean;
  threads?: number;
  /** 'faceres' (default) or null for the conditioning network only */
  evalNet?: string | null;
  /** attribute classifier folder (attributes.onnx + attributes.json); default models/attributes; null: none */
  attributeModelDir?: string | null;
  command?: string;
  log?: (msg: string) => void;
}

export const NETS = ['eval', 'cond'] as const;
/** Which recognition network an embedding is from: the independent evaluation net or the conditioning net. */
export type Net = (typeof NETS)[number];

export interface Person {
  id: string;
  photos: CelebaRecord[];
  judged: ImageJudgement[];
  /** attribute classifier logits per photo (null: no face found, or no classifier) */
  cls: (AttributeLogits | null)[];
  /** index into `photos` of the photo generations are conditioned on (the first with a face) */
  source: number;
}

export interface GenRecord { png: Buffer; j: ImageJudgement; cls: AttributeLogits | null; msPerImage: number; msPerEval: number; faceOn: boolean }

export interface GenRequest { embedding?: Float32Array; randomIdentity?: number; prompt: string; faceScale: number; textScale?: number; seed: number; count?: number }

/** Per-call timings (ms), split by face on / off, and the peak RSS seen after any generation. */
export interface GenStats { face: number[]; base: number[]; faceEval: number[]; baseEval: number[]; maxRss: number }

/** Everything loaded before the real photos are judged. */
export interface EvalSetup {
  options: EvalOptions;
  log: (msg: string) => void;
  quick: boolean;
  seed: number;
  /** bootstrap resamples */
  B: number;
  /** random identities in the consistency measurement */
  characters: number;
  outDir: string;
  promptsFile: string;
  set: PromptSet;
  judges: Judges;
  /** networks the identity figures are reported for ('eval' only when the evaluation net loaded) */
  nets: Net[];
  pipe: Pipeline;
  classifier: AttributeClassifier | null;
  classifierError: string | null;
  steps: number;
  /** the bundle's default face and text guidance scales */
  faceScale: number;
  textScale: number;
  /** the bundle's default face starts: photo embeddings, and the random identities (characters) */
  faceStart: number;
  faceStartRandom: number;
  /** the bundle's default guidance rescale (0 = off); every generation uses it */
  guidanceRescale: number;
}

export interface EvalContext extends EvalSetup {
  people: Person[];
  gen(req: GenRequest): Promise<GenRecord[]>;
  stats: GenStats;
}

/** The conditioning embedding of a person's source photo (set: source has a face). */
export const sourceEmbedding = (p: Person): Float32Array => p.judged[p.source].cond!;

export const round = (x: number | null | undefined, d = 4): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
export const roundCI = (c: Interval | null) => (c ? { lo: round(c.lo), hi: round(c.hi), n: c.n } : null);

export function createContext(setup: EvalSetup, people: Person[]): EvalContext {
  const { pipe, judges, classifier, steps, textScale } = setup;
  const m = pipe.bundle.manifest;
  const stats: GenStats = { face: [], base: [], faceEval: [], baseEval: [], maxRss: process.memoryUsage().rss };
  const gen = async (opts: GenRequest): Promise<GenRecord[]> => {
    const faceOn = opts.faceScale > 0 && (opts.embedding !== undefined || opts.randomIdentity !== undefined);
    const r = await pipe.generate({
      prompt: opts.prompt,
      embedding: opts.embedding,
      embeddingEmbedder: opts.embedding ? judges.analyzer.embedderId : undefined,
      randomIdentity: opts.randomIdentity,
      faceScale: opts.faceScale,
      textScale: opts.textScale ?? textScale,
      steps,
      seed: opts.seed,
      count: opts.count ?? 1,
    });
    stats.maxRss = Math.max(stats.maxRss, process.memoryUsage().rss);
    const ms = r.metadata.timings.total_ms / r.metadata.count;
    const msEval = r.metadata.timings.sampling_ms / Math.max(1, r.metadata.unet_evals);
    (faceOn ? stats.face : stats.base).push(ms);
    (faceOn ? stats.faceEval : stats.baseEval).push(msEval);
    const out: GenRecord[] = [];
    for (const im of r.images) {
      const png = asBuffer(im.png);
      // x0 in [-1, 1] at 64x64 goes in as is; any other bundle size/range: its PNG resized to 64x64
      const direct = im.pixels && im.pixels.length === 3 * CLASSIFIER_SIZE * CLASSIFIER_SIZE && m.image.pixel_range[0] === -1 && m.image.pixel_range[1] === 1;
      const cls = classifier ? (await classifier.classifyPixels([direct ? im.pixels! : rgbToChw(await Judges.upscale(png, CLASSIFIER_SIZE))]))[0] : null;
      out.push({ png, j: await judges.judge(await Judges.upscale(png)), cls, msPerImage: ms, msPerEval: msEval, faceOn });
    }
    return out;
  };
  return { ...setup, people, gen, stats };
}
