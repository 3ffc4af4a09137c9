// The browser entry of the pipeline: the bundle fetched from the site, onnxruntime-web sessions
// (wasm, threads when the page is cross-origin isolated; WebGPU when asked for and present) and
// face-api's browser build, around the same runtime-neutral generate loop Node runs.
import * as ort from 'onnxruntime-web';
import { loadBundleFrom } from '../model/bundle-load.js';
import { OrtModelSessions, type OrtModule } from '../model/ort-sessions.js';
import { createPipelineWith, type Pipeline } from '../pipeline/pipeline.js';
import type { PipelineRuntime } from '../pipeline/runtime.js';
import { FaceAnalysisCore } from '../face/face-analyzer.js';
import { FileFetcher, type LoadProgress } from './fetch-files.js';
import { httpBundleReader } from './bundle-reader.js';
import { browserImageOps } from './image-ops.js';
import { loadBrowserFaceApi } from './face-api-browser.js';
import { encodePngBrowser } from './png.js';

/** Folders of the static site (build-web writes this layout), relative to the page. */
export const SITE_LAYOUT = { bundle: 'bundle/', ort: 'ort/', tfjs: 'tfjs/', faceWeights: 'face-api/' } as const;

/** ONNX Runtime Web's wasm (its JSEP build: the wasm and WebGPU execution providers). */
export const ORT_WASM = 'ort-wasm-simd-threaded.jsep.wasm';

export type ExecutionProvider = 'wasm' | 'webgpu';

export interface BrowserPipelineOptions {
  /** ONNX Runtime threads (default: up to 4 when cross-origin isolated, else 1). */
  threads?: number;
  executionProvider?: ExecutionProvider;
  /** Verify the bundle's sha256 hashes (default true). */
  verify?: boolean;
  onProgress?: (p: LoadProgress) => void;
}

export interface BrowserPipeline {
  pipeline: Pipeline;
  analyzer: FaceAnalysisCore;
  executionProvider: ExecutionProvider;
  threads: number;
  crossOriginIsolated: boolean;
  loadMs: number;
}

export function defaultThreads(): number {
  return globalThis.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
}

export async function createBrowserPipeline(o: BrowserPipelineOptions = {}): Promise<BrowserPipeline> {
  const t0 = performance.now();
  const files = new FileFetcher(o.onProgress);
  const ep: ExecutionProvider = o.executionProvider ?? 'wasm';
  if (ep === 'webgpu' && !('gpu' in navigator)) throw new Error('this browser has no WebGPU (navigator.gpu); use wasm');
  const isolated = globalThis.crossOriginIsolated === true;
  const threads = o.threads ?? defaultThreads();
  if (threads > 1 && !isolated) throw new Error('threads > 1 need a cross-origin isolated page (COOP/COEP headers)');
  const ortUrl = new URL(SITE_LAYOUT.ort, location.href).href;
  ort.env.wasm.wasmPaths = ortUrl;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;

  // the runtime's wasm (the largest file) through the fetcher too, so the loading bar counts it
  const ortWasmP = files.bytes(new URL(ORT_WASM, ortUrl).href);
  const bundleP = loadBundleFrom(httpBundleReader(SITE_LAYOUT.bundle, files), { verify: o.verify });
  const faceApiP = loadBrowserFaceApi(SITE_LAYOUT.faceWeights, SITE_LAYOUT.tfjs, files);
  const ortWasm = await ortWasmP;
  if (!ortWasm) throw new Error(`the site lacks ${SITE_LAYOUT.ort}${ORT_WASM}`);
  ort.env.wasm.wasmBinary = ortWasm;
  const bundle = await bundleP;
  const sessions = await OrtModelSessions.open(bundle, {
    ort: ort as unknown as OrtModule,
    model: async (key) => {
      const bytes = await files.bytes(bundle.paths[key]);
      if (!bytes) throw new Error(`${bundle.paths[key]} is gone`);
      files.forget(bundle.paths[key]);
      return bytes;
    },
    threads,
    sessionOptions: { executionProviders: [ep], graphOptimizationLevel: 'all', executionMode: 'sequential' },
  });
  const analyzer = new FaceAnalysisCore(await faceApiP, browserImageOps);
  const runtime: PipelineRuntime = {
    async readPhoto(url) {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`cannot read face photo ${url}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
    encodePng: encodePngBrowser,
    loadFaceAnalyzer: async () => analyzer,
    // WordNet (tens of MB) is not shipped to the page: unknown prompt words stay <unk> here
    loadWordMapper: async () => null,
  };
  const pipeline = createPipelineWith(bundle, sessions, runtime, { faceAnalyzer: analyzer, wordMapper: null });
  return { pipeline, analyzer, executionProvider: ep, threads, crossOriginIsolated: isolated, loadMs: performance.now() - t0 };
}
