// window.face0: the page's (and any script's) API to generate on this device.
//   await face0.ready                       // resolves when the models are loaded
//   await face0.generate({ photo, prompt, seed, steps, count, textScale, faceScale, randomIdentity })
//                                           // -> PNG data URLs
// Options left out take the bundle's defaults, exactly as `face0 generate` does (the same
// runtime-neutral pipeline runs here), so the same seed and settings give the same image.
import { alignFace, FRAMINGS } from '../face/align.js';
import { slerp } from '../identity/slerp.js';
import { normalize } from '../identity/vec.js';
import { SAMPLERS } from '../diffusion/samplers.js';
import type { GenerateOptions, GenerateMetadata } from '../pipeline/types.js';
import { createBrowserPipeline, type BrowserPipeline, type BrowserPipelineOptions } from './browser-pipeline.js';
import type { LoadProgress } from './fetch-files.js';
import { encodePngBrowser, pngDataUrl } from './png.js';

export type PhotoInput = string | Blob;

export interface Face0GenerateOptions {
  /** A face photo: a URL (same origin), a Blob or a File. */
  photo?: PhotoInput;
  /** Which face when the photo has several (default 0: the largest). */
  faceIndex?: number;
  /** A ready identity embedding instead of a photo (e.g. from face0.faces()). */
  embedding?: ArrayLike<number>;
  randomIdentity?: number;
  attributes?: Record<string, number>;
  prompt?: string;
  seed?: number;
  steps?: number;
  count?: number;
  textScale?: number;
  faceScale?: number;
  sampler?: GenerateOptions['sampler'];
  onStep?: (step: number, total: number) => void;
  signal?: AbortSignal;
}

export interface Face0Result {
  images: { dataUrl: string; seed: number }[];
  metadata: GenerateMetadata;
}

export interface FacesResult {
  width: number;
  height: number;
  faces: { box: number[]; score: number }[];
  face_index: number;
  /** Aligned 128 px portrait crop of the chosen face. */
  crop_data_url: string;
  embedding: number[];
  embedder: string;
  bundle_compatible: boolean;
  warnings: string[];
}

export interface BundleInfo {
  name: string;
  resolution: number;
  embedder: string;
  analyzer_embedder: string;
  defaults: Record<string, unknown>;
  samplers: string[];
  attributes: string[];
  execution_provider: string;
  threads: number;
  cross_origin_isolated: boolean;
  load_ms: number;
}

async function photoBytes(photo: PhotoInput): Promise<{ bytes: Uint8Array; name: string }> {
  if (typeof photo === 'string') {
    const res = await fetch(photo);
    if (!res.ok) throw new Error(`cannot read face photo ${photo}: HTTP ${res.status}`);
    return { bytes: new Uint8Array(await res.arrayBuffer()), name: photo.split('/').pop() || 'photo' };
  }
  const name = 'name' in photo && typeof photo.name === 'string' && photo.name ? photo.name : 'photo';
  return { bytes: new Uint8Array(await photo.arrayBuffer()), name };
}

export class Face0Browser {
  /** The latest loading progress (bytes), also sent as `face0-progress` events on window. */
  loadProgress: LoadProgress = { loaded: 0, total: 0, file: '' };
  private loading: Promise<BrowserPipeline> | undefined;

  constructor(private readonly options: BrowserPipelineOptions = {}) {}

  /** Starts loading on first use; resolves with what was loaded. */
  get ready(): Promise<BundleInfo> {
    return this.load().then(() => this.info());
  }

  /** Load with other options (threads, execution provider) than the defaults; only before `ready`. */
  configure(o: BrowserPipelineOptions): void {
    if (this.loading) throw new Error('face0 is already loading or loaded; configure() it first');
    Object.assign(this.options, o);
  }

  private load(): Promise<BrowserPipeline> {
    this.loading ??= createBrowserPipeline({
      ...this.options,
      onProgress: (p) => {
        this.loadProgress = p;
        dispatchEvent(new CustomEvent('face0-progress', { detail: p }));
      },
    });
    return this.loading;
  }

  async info(): Promise<BundleInfo> {
    const b = await this.load();
    const m = b.pipeline.bundle.manifest;
    return {
      name: m.name,
      resolution: m.image.resolution,
      embedder: m.face.embedder,
      analyzer_embedder: b.analyzer.embedderId,
      defaults: { ...m.defaults },
      samplers: [...SAMPLERS],
      attributes: Object.keys(m.identity.directions).sort(),
      execution_provider: b.executionProvider,
      threads: b.threads,
      cross_origin_isolated: b.crossOriginIsolated,
      load_ms: b.loadMs,
    };
  }

  /** Faces in a photo (largest first), the chosen one's crop and embedding: what POST /v1/faces answers. */
  async faces(photo: PhotoInput, faceIndex?: number): Promise<FacesResult> {
    const b = await this.load();
    const { bytes, name } = await photoBytes(photo);
    const a = await b.analyzer.analyze(bytes, { faceIndex, name });
    const crop = alignFace(a.image, a.face.landmarks5, 128, FRAMINGS.portrait);
    const png = await encodePngBrowser(crop.data, crop.width, crop.height, 3);
    return {
      width: a.image.width,
      height: a.image.height,
      faces: a.faces.map((f) => ({ box: [...f.box], score: f.score })),
      face_index: a.faceIndex,
      crop_data_url: pngDataUrl(png),
      embedding: Array.from(a.embedding),
      embedder: a.embedder,
      bundle_compatible: a.embedder === b.pipeline.bundle.manifest.face.embedder,
      warnings: a.warnings,
    };
  }

  /** The identity between two embeddings (slerp, t = 0: a, 1: b). */
  blend(a: ArrayLike<number>, b: ArrayLike<number>, t: number): number[] {
    return Array.from(slerp(normalize(Float32Array.from(a)), normalize(Float32Array.from(b)), t));
  }

  /** Images with their seeds and the full metadata (what `face0 generate` writes beside each PNG). */
  async generateDetailed(o: Face0GenerateOptions): Promise<Face0Result> {
    const b = await this.load();
    const opts: GenerateOptions = {
      prompt: o.prompt ?? '',
      seed: o.seed,
      steps: o.steps,
      count: o.count,
      textScale: o.textScale,
      faceScale: o.faceScale,
      sampler: o.sampler,
      faceIndex: o.faceIndex,
      randomIdentity: o.randomIdentity,
      attributes: o.attributes,
      onStep: o.onStep,
      signal: o.signal,
    };
    if (o.photo !== undefined) {
      const p = await photoBytes(o.photo);
      opts.face = p.bytes;
      opts.photoName = p.name;
    }
    if (o.embedding !== undefined) opts.embedding = Float32Array.from(o.embedding);
    const r = await b.pipeline.generate(opts);
    return { images: r.images.map((im) => ({ dataUrl: pngDataUrl(im.png), seed: im.seed })), metadata: r.metadata };
  }

  /** PNG data URLs, one per image. */
  async generate(o: Face0GenerateOptions): Promise<string[]> {
    return (await this.generateDetailed(o)).images.map((im) => im.dataUrl);
  }
}
