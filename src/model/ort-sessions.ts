// ONNX Runtime sessions for a bundle, with typed wrappers for the three networks. Runtime-neutral:
// the ONNX Runtime module is passed in (onnxruntime-node in Node, onnxruntime-web in the browser;
// both implement onnxruntime-common's API), as is how a network's model file is reached.
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { Bundle } from './bundle-load.js';

/** What we use of an ONNX Runtime JS package. */
export interface OrtModule {
  InferenceSession: { create(model: string | Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) => Tensor;
}

export type NetworkKey = 'text_encoder' | 'face_projector' | 'unet';

export interface OpenSessionsOptions {
  ort: OrtModule;
  /** A network's model: a path or URL the runtime opens itself, or the file's bytes. */
  model: (key: NetworkKey) => string | Uint8Array | Promise<string | Uint8Array>;
  /** Threads the sessions use (recorded in metadata; the runtime sets them in sessionOptions or its env). */
  threads: number;
  sessionOptions: InferenceSession.SessionOptions;
  /** Run each network once at batch 1 after loading (default true). */
  warmup?: boolean;
}

/** I/O names fixed by docs/CONTRACTS.md §4. */
export const IO = {
  text_encoder: { inputs: ['input_ids'], outputs: ['hidden'] },
  face_projector: { inputs: ['embedding'], outputs: ['tokens'] },
  unet: { inputs: ['sample', 'timestep', 'context'], outputs: ['prediction'] },
} as const;

export class OrtModelSessions {
  readonly threads: number;
  readonly L: number;
  readonly D: number;
  readonly K: number;
  readonly E: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  /** Wall time of the warm-up runs (ms), 0 when skipped. */
  warmupMs = 0;
  unetEvals = 0;

  private constructor(
    private readonly ort: OrtModule,
    readonly textEncoder: InferenceSession,
    readonly faceProjector: InferenceSession,
    readonly unetSession: InferenceSession,
    bundle: Bundle,
    threads: number,
  ) {
    const m = bundle.manifest;
    this.threads = threads;
    this.L = m.text.context_length;
    this.D = m.text.width;
    this.K = m.text.face_tokens;
    this.E = m.face.embedding_dim;
    this.C = m.image.channels;
    this.H = m.image.resolution;
    this.W = m.image.resolution;
  }

  static async open(bundle: Bundle, o: OpenSessionsOptions): Promise<OrtModelSessions> {
    const open = async (key: NetworkKey) => {
      let s: InferenceSession;
      try {
        s = await o.ort.InferenceSession.create(await o.model(key), o.sessionOptions);
      } catch (err) {
        throw new Error(`cannot load ${bundle.manifest.files[key].path} from bundle ${bundle.dir}: ${(err as Error).message}`);
      }
      const want = IO[key];
      for (const n of want.inputs) {
        if (!s.inputNames.includes(n)) throw new Error(`${bundle.manifest.files[key].path}: expected an input named "${n}", the graph has ${s.inputNames.join(', ')}`);
      }
      for (const n of want.outputs) {
        if (!s.outputNames.includes(n)) throw new Error(`${bundle.manifest.files[key].path}: expected an output named "${n}", the graph has ${s.outputNames.join(', ')}`);
      }
      return s;
    };
    const [te, fp, un] = await Promise.all([open('text_encoder'), open('face_projector'), open('unet')]);
    const ms = new OrtModelSessions(o.ort, te, fp, un, bundle, o.threads);
    if (o.warmup !== false) {
      const t0 = performance.now();
      const ids = new BigInt64Array(ms.L);
      const hidden = await ms.encodeText(ids, 1);
      await ms.projectFace(new Float32Array(ms.E), 1);
      await ms.unet(new Float32Array(ms.C * ms.H * ms.W), new Float32Array([0]), hidden, 1);
      ms.unetEvals = 0;
      ms.warmupMs = performance.now() - t0;
    }
    return ms;
  }

  /** input_ids int64 [B, L] -> hidden float32 [B, L, D] */
  async encodeText(ids: BigInt64Array, batch: number): Promise<Float32Array> {
    expectLen('input_ids', ids.length, batch * this.L);
    const out = await this.textEncoder.run({ input_ids: new this.ort.Tensor('int64', ids, [batch, this.L]) });
    return take(out.hidden, 'hidden', batch * this.L * this.D);
  }

  /** embedding float32 [B, E] -> tokens float32 [B, K, D] */
  async projectFace(embedding: Float32Array, batch: number): Promise<Float32Array> {
    expectLen('embedding', embedding.length, batch * this.E);
    const out = await this.faceProjector.run({ embedding: new this.ort.Tensor('float32', embedding, [batch, this.E]) });
    return take(out.tokens, 'tokens', batch * this.K * this.D);
  }

  /** sample [B, C, H, W], timestep [B], context [B, L, D] -> prediction [B, C, H, W] */
  async unet(sample: Float32Array, timestep: Float32Array, context: Float32Array, batch: number): Promise<Float32Array> {
    const px = this.C * this.H * this.W;
    expectLen('sample', sample.length, batch * px);
    expectLen('timestep', timestep.length, batch);
    expectLen('context', context.length, batch * this.L * this.D);
    const out = await this.unetSession.run({
      sample: new this.ort.Tensor('float32', sample, [batch, this.C, this.H, this.W]),
      timestep: new this.ort.Tensor('float32', timestep, [batch]),
      context: new this.ort.Tensor('float32', context, [batch, this.L, this.D]),
    });
    this.unetEvals++;
    return take(out.prediction, 'prediction', batch * px);
  }

  async release(): Promise<void> {
    await Promise.all([this.textEncoder.release(), this.faceProjector.release(), this.unetSession.release()]);
  }
}

function expectLen(name: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${name}: ${got} values given, ${want} expected`);
}

function take(t: Tensor | undefined, name: string, want: number): Float32Array {
  if (!t) throw new Error(`network produced no "${name}" output`);
  if (t.type !== 'float32') throw new Error(`"${name}" output is ${t.type}, expected float32`);
  const d = t.data as Float32Array;
  if (d.length !== want) throw new Error(`"${name}" output has ${d.length} values, expected ${want} (dims ${t.dims.join('x')})`);
  return d;
}
