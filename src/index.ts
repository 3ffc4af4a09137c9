// Library entry: typed exports of every part (face analysis, data, model, diffusion, pipeline).
export {};
// --- generation half (text, diffusion, identity, model, pipeline) ---
export { Tokenizer } from './text/tokenizer.js';
export type { TokenizerSpec, Encoding } from './text/tokenizer.js';
export { Rng } from './diffusion/rng.js';
export { NoiseSchedule, alphasCumprod, makeTimesteps, TIMESTEP_SPACINGS } from './diffusion/schedule.js';
export type { TimestepSpacing } from './diffusion/schedule.js';
export { sample, sampleDdim, sampleDpmpp2m, sampleEuler, toX0Eps, SAMPLERS } from './diffusion/samplers.js';
export type { Denoiser, SamplerName, SamplerOptions, PredictionType } from './diffusion/samplers.js';
export { planGuidance, combineGuidance, threeWay } from './diffusion/guidance.js';
export type { GuidancePlan, GuidanceMode, Branch } from './diffusion/guidance.js';
export { slerp } from './identity/slerp.js';
export { meanEmbedding, mixEmbeddings } from './identity/mean.js';
export { sampleIdentity } from './identity/prior.js';
export type { IdentityPrior } from './identity/prior.js';
export { applyAttributes } from './identity/directions.js';
export { cosine as cosineSimilarity } from './identity/vec.js';
export { parseManifest, manifestSchema, ManifestError } from './model/manifest.js';
export type { Manifest } from './model/manifest.js';
export { loadBundle, checkEmbedder, sha256File, BundleError } from './model/bundle.js';
export type { Bundle } from './model/bundle.js';
export { ModelSessions } from './model/sessions.js';
export { createPipeline, GENERATOR_ID } from './pipeline/generate.js';
export type { Pipeline, PipelineOptions } from './pipeline/generate.js';
export { spliceFaceTokens } from './pipeline/context.js';
export { makeGrid } from './pipeline/image.js';
export type { FaceEmbedder, GenerateOptions, GenerateResult, GenerateMetadata, GeneratedImage } from './pipeline/types.js';
