// Face analysis in Node: face-api's node-wasm build on TensorFlow.js wasm (backend.ts) and sharp for
// decoding (image.ts), around the runtime-neutral analysis of face-analyzer.ts.
import { faceApiVersion, loadFaceApi, type Tensor3D } from './backend.js';
import { FRAMINGS, type Framing } from './align.js';
import { sharpImageOps } from './image.js';
import { embedderIdOf, FaceAnalysisCore, type FaceAnalyzerOptions } from './face-analyzer.js';

export { EMBEDDING_DIM, embedderIdOf, l2normalize, FaceAnalysisCore } from './face-analyzer.js';
export type { DetectedFace, FaceAnalysis, FaceAnalyzerOptions } from './face-analyzer.js';

/** Identifies the embedding network and the alignment feeding it; bundles refuse any other. */
export function embedderId(framing: Framing = FRAMINGS.recognition): string {
  return embedderIdOf(faceApiVersion(), framing);
}

export class FaceAnalyzer extends FaceAnalysisCore {
  static async create(opts: FaceAnalyzerOptions = {}, recognition: Framing = FRAMINGS.recognition): Promise<FaceAnalyzer> {
    return new FaceAnalyzer(await loadFaceApi(), sharpImageOps, opts, recognition);
  }
}

export function createFaceAnalyzer(opts?: FaceAnalyzerOptions): Promise<FaceAnalyzer> {
  return FaceAnalyzer.create(opts);
}

export type { Tensor3D };
