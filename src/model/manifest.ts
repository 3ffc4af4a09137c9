// Model bundle manifest (docs/CONTRACTS.md §4, format_version 1): zod schema + readable errors.
// Objects are "loose": unknown extra fields are kept and ignored (forward compatible); every
// field the contract lists is required unless the contract marks it optional.
import { z } from 'zod';
import { SAMPLERS } from '../diffusion/samplers.js';
import { MAX_FACE_START, MAX_GUIDANCE_RESCALE } from '../diffusion/guidance.js';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const fileEntry = z.looseObject({
  path: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'),
});

export const manifestSchema = z
  .looseObject({
    format_version: z.literal(1),
    name: z.string().min(1),
    created: z.string().min(1),
    license: z.string(),
    files: z.looseObject({
      text_encoder: fileEntry,
      face_projector: fileEntry,
      unet: fileEntry,
      tokenizer: fileEntry,
    }),
    image: z.looseObject({
      resolution: posInt,
      channels: posInt,
      pixel_range: z.tuple([finite, finite]),
      layout: z.string(),
    }),
    text: z.looseObject({
      context_length: posInt,
      width: posInt,
      face_tokens: nonNegInt,
    }),
    face: z.looseObject({
      embedding_dim: posInt,
      embedder: z.string().min(1),
    }),
    schedule: z.looseObject({
      type: z.string(),
      num_train_timesteps: posInt,
      betas: z.array(z.number().gt(0).lt(1)).min(1),
      /** Extension (optional): timestep spacing used by the trainer's reference sampler. */
      timestep_spacing: z.enum(['trailing', 'leading', 'linspace']).optional(),
    }),
    prediction_type: z.enum(['v', 'eps']),
    unet_info: z.looseObject({
      params: nonNegInt,
      gflops_per_eval: z.number().nonnegative(),
    }),
    identity: z.looseObject({
      count: nonNegInt,
      mean: z.array(finite),
      cholesky: z.array(z.array(finite)),
      directions: z.record(
        z.string(),
        z.looseObject({ vector: z.array(finite), positives: nonNegInt.optional(), negatives: nonNegInt.optional() }),
      ),
    }),
    training: z.looseObject({
      stages: z.array(z.looseObject({ stage: z.string() })),
      data: z.union([z.string(), z.record(z.string(), z.unknown())]),
      config: z.record(z.string(), z.unknown()),
    }),
    defaults: z.looseObject({
      steps: posInt,
      sampler: z.enum(SAMPLERS as unknown as ['ddim', 'dpmpp_2m', 'euler']),
      text_scale: finite,
      face_scale: finite,
      eta: z.number().nonnegative().optional(),
      timestep_spacing: z.enum(['trailing', 'leading', 'linspace']).optional(),
      /** Extension (optional): fraction of the steps sampled before the face joins (GENERATE.md). */
      face_start: z.number().min(0).max(MAX_FACE_START).optional(),
      /** Extension (optional): the face start for random identities; absent = face_start (GENERATE.md). */
      face_start_random: z.number().min(0).max(MAX_FACE_START).optional(),
      /** Extension (optional): guidance rescale φ (GENERATE.md); absent = 0, off. */
      guidance_rescale: z.number().min(0).max(MAX_GUIDANCE_RESCALE).optional(),
    }),
  })
  .superRefine((m, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (m.schedule.betas.length !== m.schedule.num_train_timesteps) {
      issue(['schedule', 'betas'], `has ${m.schedule.betas.length} values but num_train_timesteps is ${m.schedule.num_train_timesteps}`);
    }
    if (m.text.face_tokens > m.text.context_length - 2) {
      issue(['text', 'face_tokens'], `${m.text.face_tokens} face tokens leave no room for bos/eos in context_length ${m.text.context_length}`);
    }
    const d = m.face.embedding_dim;
    if (m.identity.mean.length !== d) issue(['identity', 'mean'], `has ${m.identity.mean.length} values, face.embedding_dim is ${d}`);
    if (m.identity.cholesky.length !== d || m.identity.cholesky.some((r) => r.length !== d)) {
      issue(['identity', 'cholesky'], `must be a ${d}×${d} matrix (face.embedding_dim)`);
    }
    for (const [name, dir] of Object.entries(m.identity.directions)) {
      if (dir.vector.length !== d) issue(['identity', 'directions', name, 'vector'], `has ${dir.vector.length} values, face.embedding_dim is ${d}`);
    }
    if (m.image.pixel_range[0] >= m.image.pixel_range[1]) issue(['image', 'pixel_range'], 'must be [low, high] with low < high');
  });

export type Manifest = z.infer<typeof manifestSchema>;

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

export class ManifestError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid bundle manifest ${source}: ${problems.join('; ')}`);
    this.name = 'ManifestError';
    this.problems = problems;
  }
}

/** Validate a parsed manifest.json; throws ManifestError naming each bad field. */
export function parseManifest(raw: unknown, source = 'manifest.json'): Manifest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ManifestError(source, ['the manifest must be a JSON object']);
  const fv = (raw as Record<string, unknown>).format_version;
  if (fv !== undefined && fv !== 1) {
    throw new ManifestError(source, [`format_version ${JSON.stringify(fv)} is not supported (this build reads format_version 1)`]);
  }
  const res = manifestSchema.safeParse(raw);
  if (res.success) return res.data;
  const problems = res.error.issues.map((iss) => {
    const field = iss.path.map(String).join('.') || '(root)';
    const v = valueAt(raw, iss.path);
    if (v === undefined && iss.code !== "custom") return `field "${field}" is missing`;
    return `field "${field}": ${iss.message}`;
  });
  throw new ManifestError(source, problems);
}
