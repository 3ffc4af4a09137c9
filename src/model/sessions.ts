// onnxruntime-node sessions for a bundle (CPU EP; threads = cores by default). The wrappers around
// the three networks are runtime-neutral: ort-sessions.ts.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { Bundle } from './bundle-load.js';
import { OrtModelSessions, type OrtModule } from './ort-sessions.js';

export { IO } from './ort-sessions.js';

export interface SessionOptions {
  /** intra-op threads per session (default: number of cores). */
  threads?: number;
  /** Run each network once at batch 1 after loading (default true). */
  warmup?: boolean;
}

export type ModelSessions = OrtModelSessions;

export const ModelSessions = {
  async create(bundle: Bundle, opts: SessionOptions = {}): Promise<ModelSessions> {
    const threads = opts.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
    return OrtModelSessions.open(bundle, {
      ort: ort as unknown as OrtModule,
      model: (key) => bundle.paths[key],
      threads,
      sessionOptions: { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' },
      warmup: opts.warmup,
    });
  },
};
