// The face0 HTTP server: Fastify app with JSON-schema validated routes, an OpenAPI document,
// Prometheus metrics, a bounded work queue over N pipelines, and the static web page.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createPipeline, type Pipeline } from '../pipeline/generate.js';
import { FaceAnalyzer } from '../face/analyzer.js';
import { SAMPLERS } from '../diffusion/samplers.js';
import { mapError } from './errors.js';
import { createMetrics } from './metrics.js';
import { WorkQueue } from './queue.js';
import { createContext, type ServerContext, type ServerOptions } from './context.js';
import { ISOLATION_HEADERS } from '../site/isolation.js';
import { bundleResponse, errorSchema, LIMITS } from './schemas.js';
import { registerGenerate } from './routes-generate.js';
import { registerFaces } from './routes-faces.js';
import type { UploadLimits } from './uploads.js';

export type { ServerContext, ServerOptions } from './context.js';

export interface Face0Server {
  app: FastifyInstance;
  ctx: ServerContext;
  /** Resolves when the bundle and the analyzer are loaded (rejects if loading fails). */
  loaded: Promise<void>;
  /** Stop accepting, give running requests graceMs (default 10 s), unload. */
  close(graceMs?: number): Promise<void>;
}

export function defaultWebDir(): string {
  const here = fileURLToPath(new URL('./web/', import.meta.url));
  if (existsSync(here)) return here;
  // compiled to dist/server/: the static files stay in src/server/web
  return fileURLToPath(new URL('../../src/server/web/', import.meta.url));
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    face0ErrorCode?: string;
  }
}

export async function createServer(options: ServerOptions): Promise<Face0Server> {
  const workers = Math.max(1, Math.floor(options.workers ?? 1));
  const opts: ServerContext['opts'] = {
    bundleDir: options.bundleDir,
    workers,
    queue: Math.max(0, Math.floor(options.queue ?? 16)),
    timeoutMs: options.timeoutMs ?? 120_000,
    threads: options.threads ?? Math.max(1, Math.floor(availableParallelism() / workers)),
    maxUploadBytes: options.maxUploadBytes ?? 10 * 1024 * 1024,
    maxJsonBytes: options.maxJsonBytes ?? 1024 * 1024,
    maxPixels: options.maxPixels ?? 25_000_000,
    maxFiles: options.maxFiles ?? 4,
    verifyBundle: options.verifyBundle ?? true,
  };
  const limits: UploadLimits = { fileBytes: opts.maxUploadBytes, files: opts.maxFiles, pixels: opts.maxPixels };

  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: 'info',
            // never log bodies, query strings or headers that may carry personal data
            serializers: {
              req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, url: req.url.split('?')[0] }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
            ...(typeof options.logger === 'object' ? options.logger : {}),
          },
    bodyLimit: opts.maxJsonBytes,
    routerOptions: { maxParamLength: 200 },
    // strict JSON types: "20" is not a number, unknown fields are refused (not silently dropped)
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false } },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestTimeout: Math.max(opts.timeoutMs + 30_000, 60_000),
    return503OnClosing: true,
  });

  const ctx = createContext(opts, limits);
  const empty = { waiting: 0, running: 0, workers: 0, capacity: 0 };
  ctx.metrics = createMetrics({ generate: () => ctx.gen?.stats ?? empty, faces: () => ctx.faces?.stats ?? empty });
  const metrics = ctx.metrics;

  // --- metrics + error shape for every response (hijacked SSE responses included) -------------
  const recorded = new WeakSet<FastifyRequest>();
  const record = (req: FastifyRequest, status: number, seconds: number) => {
    if (recorded.has(req)) return;
    recorded.add(req);
    const route = req.routeOptions?.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(status) });
    metrics.latency.observe({ method: req.method, route }, seconds);
    if (req.face0ErrorCode) metrics.errors.inc({ code: req.face0ErrorCode, route });
  };
  app.addHook('onResponse', async (req, reply) => record(req, reply.statusCode, reply.elapsedTime / 1000));
  // hijacked (SSE) responses skip onResponse; a client that goes away is counted as 499
  app.addHook('onRequest', async (req, reply) => {
    const t0 = performance.now();
    reply.raw.once('close', () => {
      const status = reply.raw.writableFinished ? reply.raw.statusCode : 499;
      const seconds = (performance.now() - t0) / 1000;
      setImmediate(() => record(req, status, seconds));
    });
  });
  app.setErrorHandler((err, req, reply) => {
    const m = mapError(err);
    req.face0ErrorCode = m.body.error.code;
    if (m.internal) req.log.error({ err }, 'internal error');
    else req.log.info({ code: m.body.error.code, status: m.status }, 'request refused');
    if (m.status === 429) metrics.rejected.inc({ reason: 'queue_full' });
    void reply.code(m.status).headers(m.headers).type('application/json; charset=utf-8').send(m.body);
  });
  app.setNotFoundHandler((req, reply) => {
    req.face0ErrorCode = 'not_found';
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0].slice(0, 200)}` } });
  });

  // --- body parsers: JSON (default), multipart (in memory), raw images for /v1/faces ----------
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(/^(image\/[\w.+-]+|application\/octet-stream)$/i, { parseAs: 'buffer', bodyLimit: opts.maxUploadBytes }, (_req, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: opts.maxUploadBytes, files: opts.maxFiles, parts: 48, fields: 32, fieldSize: 64 * 1024, headerPairs: 64 } });

  // --- OpenAPI --------------------------------------------------------------------------------
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'face0',
        version: packageVersion(),
        description:
          'Face0: condition a text-to-image model on a face, instantly. Errors are JSON `{ error: { code, message } }`; bad input is always a 4xx.',
      },
    },
  });
  app.addSchema(errorSchema);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // --- health, readiness, metrics, bundle ------------------------------------------------------
  app.get('/healthz', { schema: { summary: 'liveness', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'readiness: the bundle and the face analyzer are loaded',
        response: { 200: { type: 'object', properties: { status: { type: 'string' }, bundle: { type: 'string' }, workers: { type: 'integer' } } }, 503: { $ref: 'Error#' } },
      },
    },
    async () => {
      const r = ctx.requireReady();
      return { status: 'ready', bundle: r.bundle.manifest.name, workers: opts.workers };
    },
  );
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_req, reply) => {
    void reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/v1/bundle', { schema: { summary: 'the loaded model bundle: name, resolution, defaults, attribute directions', response: { 200: bundleResponse, 503: { $ref: 'Error#' } } } }, async () => {
    const { bundle, analyzer } = ctx.requireReady();
    const m = bundle.manifest;
    return {
      name: m.name,
      resolution: m.image.resolution,
      channels: m.image.channels,
      embedder: m.face.embedder,
      embedding_dim: m.face.embedding_dim,
      prediction_type: m.prediction_type,
      license: m.license,
      defaults: m.defaults,
      samplers: [...SAMPLERS],
      attributes: Object.keys(m.identity.directions).sort(),
      identity_prior_count: m.identity.count,
      analyzer_embedder: analyzer.embedderId,
      limits: {
        prompt_chars: LIMITS.promptChars,
        steps: LIMITS.steps,
        count: LIMITS.count,
        scale: LIMITS.scale,
        attribute: LIMITS.attribute,
        upload_bytes: opts.maxUploadBytes,
        pixels: opts.maxPixels,
        files: opts.maxFiles,
      },
    };
  });

  registerFaces(app, ctx);
  registerGenerate(app, ctx);

  // --- the web page ----------------------------------------------------------------------------
  // cross-origin isolated, so that the page's wasm runtimes may use threads (on this device)
  await app.register(fastifyStatic, {
    root: options.webDir ?? defaultWebDir(),
    prefix: '/',
    index: ['index.html'],
    dotfiles: 'deny',
    schemaHide: true,
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    },
  });

  // --- load the bundle (one pipeline per worker) and the analyzer, in the background ---------
  const pipelines: Pipeline[] = [];
  let ownsAnalyzer = false;
  const loaded = (async () => {
    const analyzerP = options.analyzer ? Promise.resolve(options.analyzer) : FaceAnalyzer.create({ maxPixels: opts.maxPixels });
    ownsAnalyzer = !options.analyzer;
    const analyzer = await analyzerP;
    const locked = {
      embedderId: analyzer.embedderId,
      embedImage: (input: string | Buffer, o?: { faceIndex?: number }) => ctx.analyzerLock.run(() => analyzer.embedImage(input, { ...o, name: 'upload' })),
    };
    for (let i = 0; i < workers; i++) {
      // sequential: loading sessions in parallel only contends for the same cores
      pipelines.push(await createPipeline({ bundleDir: opts.bundleDir, threads: opts.threads, faceAnalyzer: locked, verify: opts.verifyBundle, cacheEmbeddings: false, warmup: i === 0 }));
    }
    ctx.analyzer = analyzer;
    ctx.bundle = pipelines[0].bundle;
    ctx.gen = new WorkQueue(pipelines, opts.queue);
    ctx.faces = new WorkQueue([analyzer], opts.queue);
    ctx.ready = true;
    app.log.info({ bundle: ctx.bundle.manifest.name, workers, threads: opts.threads, queue: opts.queue }, 'face0 ready');
  })();
  loaded.catch((err: Error) => {
    ctx.loadError = err;
    app.log.error({ err: { message: err.message } }, 'loading failed');
  });

  return {
    app,
    ctx,
    loaded,
    async close(graceMs = 10_000) {
      // running requests get graceMs to finish; then every connection is cut (idle keep-alive
      // sockets would otherwise hold the close for the keep-alive timeout)
      const force = setTimeout(() => app.server.closeAllConnections(), graceMs);
      force.unref();
      await app.close();
      clearTimeout(force);
      await loaded.catch(() => undefined);
      for (const p of pipelines) await p.close().catch(() => undefined);
      if (ownsAnalyzer) ctx.analyzer?.close();
    },
  };
}
