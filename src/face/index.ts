// Face analysis: decode, detect, align, embed.
export * from './errors.js';
export * from './image.js';
export * from './align.js';
export { FaceAnalyzer, createFaceAnalyzer, embedderId, l2normalize, EMBEDDING_DIM } from './analyzer.js';
export type { DetectedFace, FaceAnalysis, FaceAnalyzerOptions } from './analyzer.js';
