// JSON schemas of the HTTP API (validated by Fastify's ajv, published by @fastify/swagger).
import { MAX_FACE_START, MAX_GUIDANCE_RESCALE } from '../diffusion/guidance.js';
import { SAMPLERS } from '../diffusion/samplers.js';
import { TIMESTEP_SPACINGS } from '../diffusion/schedule.js';

export const MAX_SEED = 2 ** 32 - 1;
export const LIMITS = {
  promptChars: 500,
  steps: [1, 100] as const,
  count: [1, 8] as const,
  scale: [0, 20] as const,
  attribute: [-10, 10] as const,
  mixItems: 8,
  faceIndex: 63,
};

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

const embedding = { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 1024, description: 'identity embedding (L2-normalised here)' } as const;
const seed = { type: 'integer', minimum: 0, maximum: MAX_SEED } as const;

/** Generation parameters shared by the JSON and multipart forms. */
export const generateParamProps = {
  prompt: { type: 'string', maxLength: LIMITS.promptChars, description: 'text prompt ("" for none)' },
  steps: { type: 'integer', minimum: LIMITS.steps[0], maximum: LIMITS.steps[1] },
  sampler: { type: 'string', enum: [...SAMPLERS] },
  eta: { type: 'number', minimum: 0, maximum: 1, description: 'DDIM noise (ddim sampler only)' },
  timestep_spacing: { type: 'string', enum: [...TIMESTEP_SPACINGS] },
  text_scale: { type: 'number', minimum: LIMITS.scale[0], maximum: LIMITS.scale[1] },
  face_scale: { type: 'number', minimum: LIMITS.scale[0], maximum: LIMITS.scale[1] },
  face_start: { type: 'number', minimum: 0, maximum: MAX_FACE_START, description: 'fraction of the steps, noisiest first, sampled before the face joins' },
  guidance_rescale: { type: 'number', minimum: 0, maximum: MAX_GUIDANCE_RESCALE, description: 'guidance rescale (0 = off): the guided prediction\'s spread pulled towards the conditional one\'s' },
  seed: { ...seed, description: 'seed of image 0; image i uses seed + i' },
  count: { type: 'integer', minimum: LIMITS.count[0], maximum: LIMITS.count[1] },
  face_index: { type: 'integer', minimum: 0, maximum: LIMITS.faceIndex, description: 'which face of the photo (0 = largest)' },
  random_identity: { ...seed, description: 'seed of a random identity from the bundle prior (consistent character)' },
  attributes: {
    type: 'object',
    maxProperties: 64,
    additionalProperties: { type: 'number', minimum: LIMITS.attribute[0], maximum: LIMITS.attribute[1] },
    description: 'amounts along the bundle attribute directions, e.g. {"Young": 0.8}',
  },
} as const;

export const generateJsonBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...generateParamProps,
    embedding,
    embedder: { type: 'string', maxLength: 200, description: 'embedder id of the given embeddings (checked against the bundle)' },
    mix: {
      type: 'array',
      minItems: 1,
      maxItems: LIMITS.mixItems,
      description: 'weighted mix of identities, each an embedding or a random identity seed',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['weight'],
        properties: { embedding, random_identity: seed, weight: { type: 'number', minimum: -10, maximum: 10 } },
      },
    },
    mix_method: { type: 'string', enum: ['linear', 'slerp'], description: 'slerp needs exactly two mix items; t = w2 / (w1 + w2)' },
  },
} as const;

/** Multipart form: `face` file parts plus these text fields (numbers as decimal strings, attributes as JSON). */
export const generateMultipartFields = {
  type: 'object',
  additionalProperties: false,
  properties: generateParamProps,
} as const;

const image = {
  type: 'object',
  required: ['png_base64', 'seed'],
  properties: { png_base64: { type: 'string' }, seed: { type: 'integer' } },
} as const;

export const generateResponse = {
  type: 'object',
  required: ['images', 'metadata'],
  properties: {
    images: { type: 'array', items: image },
    metadata: { type: 'object', additionalProperties: true },
  },
} as const;

const point = { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } as const;
export const facesResponse = {
  type: 'object',
  properties: {
    width: { type: 'integer' },
    height: { type: 'integer' },
    faces: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          box: { type: 'array', items: { type: 'number' }, description: '[x, y, width, height] in source pixels' },
          score: { type: 'number' },
          landmarks5: { type: 'array', items: point },
        },
      },
    },
    face_index: { type: 'integer' },
    crop_png_base64: { type: 'string', description: 'aligned crop of the chosen face, portrait framing' },
    crop_size: { type: 'integer' },
    embedding: { type: 'array', items: { type: 'number' } },
    embedder: { type: 'string' },
    bundle_compatible: { type: 'boolean', description: 'the bundle accepts embeddings of this embedder' },
    warnings: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const bundleResponse = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    resolution: { type: 'integer' },
    channels: { type: 'integer' },
    embedder: { type: 'string' },
    embedding_dim: { type: 'integer' },
    prediction_type: { type: 'string' },
    license: { type: 'string' },
    defaults: { type: 'object', additionalProperties: true },
    samplers: { type: 'array', items: { type: 'string' } },
    attributes: { type: 'array', items: { type: 'string' } },
    identity_prior_count: { type: 'integer' },
    analyzer_embedder: { type: 'string' },
    limits: { type: 'object', additionalProperties: true },
  },
} as const;
