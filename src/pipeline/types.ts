// Public types of the generation pipeline.
import type { SamplerName } from '../diffusion/samplers.js';
import type { TimestepSpacing } from '../diffusion/schedule.js';
import type { GuidanceMode } from '../diffusion/guidance.js';

/** What the pipeline needs from a face analyzer (src/face's FaceAnalyzer satisfies it). */
export interface FaceEmbedder {
  embedderId: string;
  /** Free what the analyzer holds (when the pipeline loaded it). */
  close?(): void;
  embedImage(
    input: string | Uint8Array,
    opts?: { faceIndex?: number; name?: string },
  ): Promise<{ embedding: Float32Array; faceCount: number; faceIndex: number; warnings: string[] }>;
}

/** A photo: a name the runtime reads (a path in Node, a URL in the browser) or encoded image bytes. */
export type ImageInput = string | Uint8Array;
export type IdentityInput = ImageInput | Float32Array;

export interface GenerateOptions {
  /** One face photo (path or URL, or encoded image bytes). */
  face?: ImageInput;
  /** Several photos of one person: their embeddings are averaged and renormalised. */
  faces?: ImageInput[];
  /** A ready identity embedding (face.embedding_dim values; it is L2-normalised here). */
  embedding?: Float32Array;
  /** Embedder id of `embedding`, checked against the bundle's when given. */
  embeddingEmbedder?: string;
  /** Seed of a random identity drawn from the bundle's identity prior (a consistent invented character). */
  randomIdentity?: number;
  /** Weighted mix of identities: [photo or embedding, weight][]. */
  mix?: [IdentityInput, number][];
  /** Attribute amounts along the bundle's named directions, e.g. { Young: 0.8 }. */
  attributes?: Record<string, number>;
  /** Which face to use when a photo has several (default 0 = largest). */
  faceIndex?: number;
  /** What to call photos given as bytes in messages (e.g. the file's name; default "image"). */
  photoName?: string;
  prompt: string;
  steps?: number;
  sampler?: SamplerName;
  eta?: number;
  textScale?: number;
  faceScale?: number;
  /** Fraction of the steps, noisiest first, sampled without the face (text-only guidance) before
   *  the face joins: the prompt then sets the coarse picture. 0 (default): the face at every step. */
  faceStart?: number;
  /** Guidance rescale φ in [0, 1] (src/diffusion/guidance.ts): the guided prediction's spread pulled
   *  towards the conditional one's, against the dark, contrasty pictures of large scales. 0: off. */
  guidanceRescale?: number;
  timestepSpacing?: TimestepSpacing;
  /** Seed of image 0; image i uses seed + i. Random when omitted (recorded in metadata). */
  seed?: number;
  count?: number;
  /** Starting noise x_T for all images ([count, C, H, W]) instead of the seeded draw, e.g. to
   *  reproduce a run of another implementation. DDIM eta noise still comes from the seeds. */
  initialNoise?: Float32Array;
  onStep?: (step: number, total: number) => void;
  signal?: AbortSignal;
}

export interface GeneratedImage {
  png: Uint8Array;
  seed: number;
  /** x_0 in the bundle's pixel range, [C, H, W] (for evaluation code). */
  pixels?: Float32Array;
}

export interface Timings {
  face_ms: number;
  text_ms: number;
  sampling_ms: number;
  decode_ms: number;
  total_ms: number;
}

export interface GenerateMetadata {
  generator: string;
  bundle: { name: string; dir: string; manifest_sha256: string; embedder: string; prediction_type: string };
  prompt: string;
  /** Prompt words not in the vocabulary that were encoded as another word (WordNet); absent when none. */
  prompt_mapped?: { word: string; to: string; relation: string }[];
  identity: {
    source: 'none' | 'face' | 'faces' | 'embedding' | 'random' | 'mix';
    random_identity_seed?: number;
    inputs?: string[];
    mix_weights?: number[];
    attributes?: Record<string, number>;
    /** The final (edited) embedding used for conditioning. */
    embedding?: number[];
  };
  steps: number;
  sampler: SamplerName;
  eta: number;
  text_scale: number;
  face_scale: number;
  face_start: number;
  guidance_rescale: number;
  timestep_spacing: TimestepSpacing;
  timesteps: number[];
  /** early: the text-only plan of the steps before face_from_step (present when face_start > 0 moved it). */
  guidance: { mode: GuidanceMode; branches: string[]; weights: number[]; face_from_step?: number; early?: { mode: GuidanceMode; branches: string[]; weights: number[] } };
  seed: number;
  seeds: number[];
  /** 'seeded': x_T drawn from Rng(seed + i); 'given': GenerateOptions.initialNoise. */
  initial_noise: 'seeded' | 'given';
  count: number;
  width: number;
  height: number;
  unet_batch: number;
  unet_evals: number;
  threads: number;
  timings: Timings;
  warnings: string[];
}

export interface GenerateResult {
  images: GeneratedImage[];
  metadata: GenerateMetadata;
}
