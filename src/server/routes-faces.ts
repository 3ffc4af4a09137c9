// POST /v1/faces: detect faces in one photo; the chosen face's aligned crop, its embedding and
// the embedder id (the page uses these for previews and identity interpolation).
import type { FastifyInstance } from 'fastify';
import { alignFace, FRAMINGS } from '../face/align.js';
import { encodePng } from '../face/image.js';
import type { ServerContext } from './context.js';
import { HttpError } from './errors.js';
import { facesResponse, LIMITS } from './schemas.js';
import { checkImage, readMultipart } from './uploads.js';
import { RequestWork } from './work.js';

export const CROP_SIZE = 128;

export function registerFaces(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/v1/faces',
    {
      schema: {
        summary: 'detect faces in a photo (multipart field "image", or a raw image/* body)',
        description:
          'Multipart form with one file part `image` (JPEG, PNG, WebP) and an optional field `face_index`, or the image bytes as the body with Content-Type image/*. ' +
          'Answers every face (largest first: box, score, 5 landmarks), the chosen face (largest unless face_index) as an aligned 128px portrait crop, its identity embedding and the embedder id. Several faces: 200 with a warning.',
        querystring: { type: 'object', additionalProperties: false, properties: { face_index: { type: 'integer', minimum: 0, maximum: LIMITS.faceIndex } } },
        consumes: ['multipart/form-data', 'image/jpeg', 'image/png', 'image/webp'],
        response: { 200: facesResponse, '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } },
      },
    },
    async (req, reply) => {
      const { faces } = ctx.requireReady();
      let image: Buffer;
      let faceIndex = (req.query as { face_index?: number | string }).face_index;
      if (typeof faceIndex === 'string') faceIndex = Number(faceIndex);
      if (req.isMultipart()) {
        const form = await readMultipart(req, { ...ctx.limits, files: 1 }, ['image', 'face']);
        if (form.files.length !== 1) throw new HttpError(400, 'missing_image', 'send one image in the multipart field "image"');
        image = form.files[0].data;
        for (const [k, v] of Object.entries(form.fields)) {
          if (k !== 'face_index') throw new HttpError(400, 'invalid_request', `unexpected form field "${k.slice(0, 100)}"`);
          if (!/^\d{1,2}$/.test(v.trim()) || Number(v) > LIMITS.faceIndex) throw new HttpError(400, 'invalid_parameter', `face_index must be an integer in [0, ${LIMITS.faceIndex}]`);
          faceIndex = Number(v);
        }
      } else if (Buffer.isBuffer(req.body)) {
        image = req.body;
        if (image.length === 0) throw new HttpError(422, 'image_decode', 'the body is empty');
      } else {
        throw new HttpError(415, 'unsupported_media_type', 'send the photo as multipart/form-data (field "image") or as an image/* body');
      }
      await checkImage(image, 'upload', ctx.opts.maxPixels);
      if (faces.full) throw new HttpError(429, 'queue_full', 'the face analyzer is busy (queue full)', { 'retry-after': String(faces.retryAfterS()) });
      const work = new RequestWork(req, reply, ctx.opts.timeoutMs, ctx.metrics);
      try {
        const r = await faces.run(
          (analyzer) =>
            ctx.analyzerLock.run(async () => {
              if (work.signal.aborted) throw work.signal.reason;
              const a = await analyzer.analyze(image, { faceIndex, name: 'upload' });
              const crop = alignFace(a.image, a.face.landmarks5, CROP_SIZE, FRAMINGS.portrait);
              const png = await encodePng(crop);
              return { a, png };
            }),
          { signal: work.signal, onStart: () => (work.started = true) },
        );
        const bundle = ctx.bundle!;
        return {
          width: r.a.image.width,
          height: r.a.image.height,
          faces: r.a.faces.map((f) => ({ box: f.box, score: f.score, landmarks5: f.landmarks5 })),
          face_index: r.a.faceIndex,
          crop_png_base64: r.png.toString('base64'),
          crop_size: CROP_SIZE,
          embedding: Array.from(r.a.embedding),
          embedder: r.a.embedder,
          bundle_compatible: r.a.embedder === bundle.manifest.face.embedder,
          warnings: r.a.warnings,
        };
      } catch (err) {
        throw work.explain(err, () => faces.retryAfterS());
      } finally {
        work.done();
      }
    },
  );
}
