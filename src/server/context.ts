// What the routes share with the app that registers them. The routes and app.ts both import
// this module, so dependencies run one way: app → routes → context (never routes → app).
import type { Pipeline } from '../pipeline/generate.js';
import type { FaceAnalyzer } from '../face/analyzer.js';
import { HttpError } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import { Mutex, type WorkQueue } from './queue.js';
import type { UploadLimits } from './uploads.js';

export interface ServerOptions {
  bundleDir: string;
  /** Generation workers (one pipeline each; default 1). */
  workers?: number;
  /** Jobs allowed to wait per queue when every worker is busy (default 16). */
  queue?: number;
  /** Per-request time limit for generation and face analysis, queue wait included (ms, default 120 000). */
  timeoutMs?: number;
  /** ONNX Runtime intra-op threads per worker (default: cores / workers). */
  threads?: number;
  /** Bytes per uploaded image (default 10 MiB). */
  maxUploadBytes?: number;
  /** Bytes of a JSON body (default 1 MiB). */
  maxJsonBytes?: number;
  /** Pixels per image (default 25 MP). */
  maxPixels?: number;
  /** Photos per generate request (default 4). */
  maxFiles?: number;
  /** Verify bundle hashes on load (default true). */
  verifyBundle?: boolean;
  /** Pino logger options, or false (default: info level JSON logs). */
  logger?: boolean | Record<string, unknown>;
  /** An analyzer to share (tests); created on start otherwise. */
  analyzer?: FaceAnalyzer;
  /** Folder of the web page (default src/server/web). */
  webDir?: string;
}

/** What the routes share. */
export interface ServerContext {
  opts: Required<Omit<ServerOptions, 'analyzer' | 'logger' | 'webDir' | 'threads'>> & { threads: number };
  limits: UploadLimits;
  metrics: ServerMetrics;
  gen: WorkQueue<Pipeline> | undefined;
  faces: WorkQueue<FaceAnalyzer> | undefined;
  analyzerLock: Mutex;
  analyzer: FaceAnalyzer | undefined;
  /** The first pipeline (bundle, manifest); undefined while loading. */
  bundle: Pipeline['bundle'] | undefined;
  ready: boolean;
  loadError: Error | undefined;
  /** Throws 503 not_ready while loading. */
  requireReady(): { gen: WorkQueue<Pipeline>; faces: WorkQueue<FaceAnalyzer>; analyzer: FaceAnalyzer; bundle: Pipeline['bundle'] };
}

/** A context with nothing loaded yet; app.ts fills in metrics, queues and the bundle. */
export function createContext(opts: ServerContext['opts'], limits: UploadLimits): ServerContext {
  const ctx: ServerContext = {
    opts,
    limits,
    metrics: undefined as unknown as ServerMetrics,
    gen: undefined,
    faces: undefined,
    analyzerLock: new Mutex(),
    analyzer: undefined,
    bundle: undefined,
    ready: false,
    loadError: undefined,
    requireReady() {
      if (!ctx.ready || !ctx.gen || !ctx.faces || !ctx.analyzer || !ctx.bundle) {
        throw new HttpError(503, 'not_ready', ctx.loadError ? `the server failed to load: ${ctx.loadError.message}` : 'the server is still loading the model bundle and the face analyzer', { 'retry-after': '5' });
      }
      return { gen: ctx.gen, faces: ctx.faces, analyzer: ctx.analyzer, bundle: ctx.bundle };
    },
  };
  return ctx;
}
