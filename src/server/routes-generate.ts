// POST /v1/generate: JSON (embedding / random identity / mix) or multipart (face photos), answered
// as JSON or, with `Accept: text/event-stream`, as server-sent events (progress …, result).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerateOptions, GenerateResult, IdentityInput } from '../pipeline/types.js';
import type { Pipeline } from '../pipeline/generate.js';
import { sampleIdentity } from '../identity/prior.js';
import { slerp } from '../identity/slerp.js';
import { normalize } from '../identity/vec.js';
import type { ServerContext } from './context.js';
import { HttpError, mapError, QueueFullError } from './errors.js';
import { generateJsonBody, generateMultipartFields, generateResponse, MAX_SEED } from './schemas.js';
import { checkImage, coerceFields, readMultipart, type UploadedFile } from './uploads.js';
import { RequestWork } from './work.js';

type Params = {
  prompt?: string;
  steps?: number;
  sampler?: GenerateOptions['sampler'];
  eta?: number;
  timestep_spacing?: GenerateOptions['timestepSpacing'];
  text_scale?: number;
  face_scale?: number;
  face_start?: number;
  guidance_rescale?: number;
  seed?: number;
  count?: number;
  face_index?: number;
  random_identity?: number;
  attributes?: Record<string, number>;
  embedding?: number[];
  embedder?: string;
  mix?: { embedding?: number[]; random_identity?: number; weight: number }[];
  mix_method?: 'linear' | 'slerp';
};

const NUMERIC_FIELDS = new Set(['steps', 'eta', 'text_scale', 'face_scale', 'face_start', 'guidance_rescale', 'seed', 'count', 'face_index', 'random_identity']);
const JSON_FIELDS = new Set(['attributes']);

function wantsSse(req: FastifyRequest): boolean {
  return /\btext\/event-stream\b/i.test(String(req.headers.accept ?? ''));
}

/** Checks that need the bundle (dimensions, embedder, attribute names, parameter combinations) → 400s. */
function buildOptions(p: Params, files: UploadedFile[], bundle: Pipeline['bundle'], analyzerEmbedder: string): GenerateOptions {
  const m = bundle.manifest;
  const dim = m.face.embedding_dim;
  const sources = [files.length > 0 && 'face', p.embedding && 'embedding', p.random_identity !== undefined && 'random_identity', p.mix && 'mix'].filter(Boolean);
  if (sources.length > 1) throw new HttpError(400, 'invalid_request', `give one identity source, got ${sources.join(' and ')}`);
  const emb = (v: number[], what: string): Float32Array => {
    if (v.length !== dim) throw new HttpError(400, 'bad_embedding', `${what} has ${v.length} values; bundle "${m.name}" expects ${dim}`);
    let s = 0;
    for (const x of v) s += x * x;
    if (!(s > 1e-12) || !Number.isFinite(s)) throw new HttpError(400, 'bad_embedding', `${what} must be a finite non-zero vector`);
    return Float32Array.from(v);
  };
  if (p.embedder !== undefined && p.embedder !== m.face.embedder) {
    throw new HttpError(400, 'embedder_mismatch', `the given embeddings were made by "${p.embedder}" but bundle "${m.name}" was trained on "${m.face.embedder}" embeddings; they are not interchangeable`);
  }
  if (files.length > 0 && analyzerEmbedder !== m.face.embedder) {
    throw new HttpError(400, 'embedder_mismatch', `this server's face analyzer makes "${analyzerEmbedder}" embeddings but bundle "${m.name}" was trained on "${m.face.embedder}"; face photos cannot condition this bundle (use a random identity)`);
  }
  if (p.attributes && Object.keys(p.attributes).length > 0) {
    const known = Object.keys(m.identity.directions);
    for (const name of Object.keys(p.attributes)) {
      if (!Object.prototype.hasOwnProperty.call(m.identity.directions, name)) {
        throw new HttpError(400, 'unknown_attribute', `unknown attribute "${name.slice(0, 100)}"; this bundle has: ${known.length ? known.sort().join(', ') : '(no attribute directions)'}`);
      }
    }
    if (sources.length === 0) throw new HttpError(400, 'invalid_request', 'attributes edit an identity: give a face photo, embedding, random_identity or mix as well');
  }
  if (p.mix_method !== undefined && !p.mix) throw new HttpError(400, 'invalid_request', 'mix_method needs mix');
  const count = p.count ?? 1;
  if (p.seed !== undefined && p.seed + count - 1 > MAX_SEED) throw new HttpError(400, 'invalid_parameter', `seed + count − 1 must be ≤ ${MAX_SEED}`);
  const sampler = p.sampler ?? m.defaults.sampler;
  if (p.eta !== undefined && p.eta > 0 && sampler !== 'ddim') throw new HttpError(400, 'invalid_parameter', `eta applies to the ddim sampler only (sampler is ${sampler})`);
  if (p.face_index !== undefined && files.length === 0) throw new HttpError(400, 'invalid_request', 'face_index applies to face photos');

  const o: GenerateOptions = {
    prompt: p.prompt ?? '',
    steps: p.steps,
    sampler: p.sampler,
    eta: p.eta,
    timestepSpacing: p.timestep_spacing,
    textScale: p.text_scale,
    faceScale: p.face_scale,
    faceStart: p.face_start,
    guidanceRescale: p.guidance_rescale,
    seed: p.seed,
    count,
    faceIndex: p.face_index,
    attributes: p.attributes && Object.keys(p.attributes).length > 0 ? p.attributes : undefined,
  };
  if (files.length === 1) o.face = files[0].data;
  else if (files.length > 1) o.faces = files.map((f) => f.data);
  else if (p.embedding) {
    o.embedding = emb(p.embedding, 'embedding');
    if (p.embedder !== undefined) o.embeddingEmbedder = p.embedder;
  } else if (p.random_identity !== undefined) o.randomIdentity = p.random_identity;
  else if (p.mix) {
    const items: [Float32Array, number][] = p.mix.map((it, i) => {
      const kinds = (it.embedding ? 1 : 0) + (it.random_identity !== undefined ? 1 : 0);
      if (kinds !== 1) throw new HttpError(400, 'invalid_request', `mix item ${i + 1} needs exactly one of embedding, random_identity`);
      const e = it.embedding ? emb(it.embedding, `mix item ${i + 1}`) : sampleIdentity(m.identity, it.random_identity!);
      return [e, it.weight];
    });
    if (p.mix_method === 'slerp') {
      if (items.length !== 2) throw new HttpError(400, 'invalid_request', 'mix_method "slerp" needs exactly two mix items');
      const [[a, wa], [b, wb]] = items;
      if (wa < 0 || wb < 0 || !(wa + wb > 0)) throw new HttpError(400, 'invalid_parameter', 'slerp weights must be ≥ 0 with a positive sum');
      o.embedding = slerp(normalize(a), normalize(b), wb / (wa + wb));
    } else {
      const total = items.reduce((s, [, w]) => s + w, 0);
      if (!(total > 0)) throw new HttpError(400, 'invalid_parameter', `mix weights must sum to a positive number, got ${total}`);
      o.mix = items as [IdentityInput, number][];
    }
  }
  return o;
}

function toResponse(r: GenerateResult) {
  const { dir: _dir, ...bundle } = r.metadata.bundle; // never reveal server paths
  return {
    images: r.images.map((im) => ({ png_base64: Buffer.from(im.png).toString('base64'), seed: im.seed })),
    metadata: { ...r.metadata, bundle },
  };
}

export function registerGenerate(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/v1/generate',
    {
      schema: {
        summary: 'generate images of a face (photo, embedding, random identity or mix) in a prompt',
        description:
          'JSON body (below) or multipart/form-data with one or more `face` image parts (several photos of one person are averaged) and text fields ' +
          'prompt, steps, sampler, eta, timestep_spacing, text_scale, face_scale, face_start, guidance_rescale, seed, count, face_index, random_identity, attributes (JSON). ' +
          'With `Accept: text/event-stream` the answer is server-sent events: `queued`, `started`, `progress` ({step, total}) per sampler step, then `result` (the JSON answer) or `error` ({status, error}).',
        body: { content: { 'application/json': { schema: generateJsonBody } } },
        consumes: ['application/json', 'multipart/form-data'],
        response: { 200: generateResponse, '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } },
      },
    },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const { gen, bundle, analyzer } = ctx.requireReady();
      let params: Params;
      let files: UploadedFile[] = [];
      if (req.isMultipart()) {
        const form = await readMultipart(req, ctx.limits, ['face']);
        files = form.files;
        const raw = coerceFields(form.fields, NUMERIC_FIELDS, JSON_FIELDS);
        const validate = req.compileValidationSchema(generateMultipartFields);
        if (!validate(raw)) {
          const e = validate.errors?.[0];
          throw new HttpError(400, 'invalid_request', `form field ${e ? `${e.instancePath.replace(/^\//, '') || '(form)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty).slice(0, 100)}"` : ''}` : 'invalid'}`);
        }
        params = raw as Params;
      } else if (req.body !== null && typeof req.body === 'object' && !Buffer.isBuffer(req.body) && !Array.isArray(req.body)) {
        params = req.body as Params;
      } else {
        throw new HttpError(415, 'unsupported_media_type', 'send application/json or multipart/form-data');
      }
      for (const [i, f] of files.entries()) await checkImage(f.data, files.length > 1 ? `face ${i + 1}` : 'face', ctx.opts.maxPixels);
      const opts = buildOptions(params, files, bundle, analyzer.embedderId);

      if (gen.full) throw new QueueFullError(gen.retryAfterS());
      const work = new RequestWork(req, reply, ctx.opts.timeoutMs, ctx.metrics);
      const sse = wantsSse(req);
      let send = (_event: string, _data: unknown): void => undefined;
      if (sse) {
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        send = (event, data) => {
          if (!raw.destroyed && !raw.writableEnded) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        };
        send('queued', { waiting: gen.stats.waiting, running: gen.stats.running });
      }
      try {
        const result = await gen.run(
          (pipeline) => {
            if (work.signal.aborted) return Promise.reject(work.signal.reason);
            return pipeline.generate({ ...opts, signal: work.signal, onStep: sse ? (step, total) => send('progress', { step, total }) : undefined });
          },
          {
            signal: work.signal,
            onStart: () => {
              work.started = true;
              send('started', {});
            },
          },
        );
        ctx.metrics.images.inc(result.images.length);
        const body = toResponse(result);
        if (!sse) return body;
        send('result', body);
        reply.raw.end();
      } catch (err) {
        const e = work.explain(err, () => gen.retryAfterS());
        if (!sse) throw e;
        const m = mapError(e);
        req.face0ErrorCode = m.body.error.code;
        if (m.internal) req.log.error({ err: e }, 'internal error');
        send('error', { status: m.status, ...m.body });
        if (!reply.raw.writableEnded) reply.raw.end();
      } finally {
        work.done();
      }
    },
  );
}
