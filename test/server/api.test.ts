// HTTP API through fastify.inject: every endpoint and every bad-input case answers JSON 4xx.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createServer, type Face0Server } from '../../src/server/app.js';
import { FaceAnalyzer } from '../../src/face/analyzer.js';
import { facePhoto, HAVE_DATA, imagePart, multipart, noFace, pngBomb, sharedAnalyzer, TINY_BUNDLE, twoFaces } from './helpers.js';

let server: Face0Server;
let analyzer: FaceAnalyzer;
const UPLOAD_LIMIT = 2 * 1024 * 1024;

function err(res: { statusCode: number; body: string; headers: Record<string, unknown> }, status: number, code?: string) {
  assert.equal(res.statusCode, status, res.body.slice(0, 300));
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = JSON.parse(res.body);
  assert.equal(typeof body.error?.code, 'string', res.body);
  assert.equal(typeof body.error?.message, 'string');
  if (code) assert.equal(body.error.code, code, res.body);
  return body.error as { code: string; message: string };
}

const gen = (payload: unknown, headers: Record<string, string> = {}) => server.app.inject({ method: 'POST', url: '/v1/generate', payload: payload as object, headers });
const genForm = (parts: Parameters<typeof multipart>[0]) => {
  const m = multipart(parts);
  return server.app.inject({ method: 'POST', url: '/v1/generate', payload: m.body, headers: m.headers });
};
const faces = (parts: Parameters<typeof multipart>[0]) => {
  const m = multipart(parts);
  return server.app.inject({ method: 'POST', url: '/v1/faces', payload: m.body, headers: m.headers });
};

before(async () => {
  analyzer = await sharedAnalyzer();
  server = await createServer({ bundleDir: TINY_BUNDLE, threads: 1, logger: false, analyzer, maxUploadBytes: UPLOAD_LIMIT, maxPixels: 20_000_000, queue: 4 });
  // readiness is reported before loading finishes
  const early = await server.app.inject({ method: 'GET', url: '/readyz' });
  assert.ok(early.statusCode === 503 || early.statusCode === 200);
  if (early.statusCode === 503) err(early, 503, 'not_ready');
  await server.loaded;
});
after(async () => server?.close(500));

describe('service endpoints', () => {
  test('healthz, readyz, bundle, openapi, metrics, web page', async () => {
    assert.deepEqual(JSON.parse((await server.app.inject({ url: '/healthz' })).body), { status: 'ok' });
    const ready = await server.app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.equal(JSON.parse(ready.body).status, 'ready');
    const b = JSON.parse((await server.app.inject({ url: '/v1/bundle' })).body);
    assert.equal(b.resolution, 64);
    assert.equal(b.embedding_dim, 128);
    assert.ok(Array.isArray(b.attributes));
    assert.equal(b.defaults.steps, 20);
    assert.ok(b.samplers.includes('ddim'));
    const o = await server.app.inject({ url: '/openapi.json' });
    const doc = JSON.parse(o.body);
    assert.equal(doc.openapi, '3.0.3');
    for (const p of ['/v1/generate', '/v1/faces', '/v1/bundle', '/healthz', '/readyz', '/metrics']) assert.ok(doc.paths[p], p);
    const props = doc.paths['/v1/generate'].post.requestBody.content['application/json'].schema.properties;
    assert.equal(props.steps.maximum, 100);
    const page = await server.app.inject({ url: '/' });
    assert.equal(page.statusCode, 200);
    // relative, so that the same page works from a static site under any path (face0 build-web)
    assert.match(page.body, /<script type="module" src="app.js">/);
    assert.equal(page.headers['cross-origin-embedder-policy'], 'require-corp', 'cross-origin isolated: wasm threads on this device');
    assert.doesNotMatch(page.body, /https?:\/\//, 'the page loads nothing from the internet');
    const js = await server.app.inject({ url: '/app.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    err(await server.app.inject({ url: '/nope' }), 404, 'not_found');
    err(await server.app.inject({ url: '/../package.json' }), 404);
  });

  test('metrics count requests by route and status, queue depth, latency, errors', async () => {
    await gen({ steps: 0 });
    const m = await server.app.inject({ url: '/metrics' });
    assert.equal(m.statusCode, 200);
    assert.match(m.body, /face0_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    assert.match(m.body, /face0_http_requests_total\{method="POST",route="\/v1\/generate",status="400"\} \d+/);
    assert.match(m.body, /face0_generate_queue_depth 0/);
    assert.match(m.body, /face0_http_request_duration_seconds_bucket/);
    assert.match(m.body, /face0_errors_total\{code="invalid_request",route="\/v1\/generate"\} \d+/);
    assert.match(m.body, /face0_process_resident_memory_bytes/);
  });
});

describe('POST /v1/generate', () => {
  test('random identity (JSON): images + metadata, same seed → same bytes', async () => {
    const body = { prompt: 'a photo of a man', random_identity: 7, steps: 2, count: 2, seed: 11, text_scale: 3, face_scale: 2, sampler: 'ddim' };
    const r = await gen(body);
    assert.equal(r.statusCode, 200, r.body.slice(0, 300));
    const j = JSON.parse(r.body);
    assert.equal(j.images.length, 2);
    assert.deepEqual(j.images.map((i: { seed: number }) => i.seed), [11, 12]);
    const png = Buffer.from(j.images[0].png_base64, 'base64');
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    const meta = await sharp(png).metadata();
    assert.equal(meta.width, 64);
    assert.equal(j.metadata.identity.source, 'random');
    assert.equal(j.metadata.steps, 2);
    assert.equal(j.metadata.bundle.dir, undefined, 'no server paths in answers');
    const again = JSON.parse((await gen(body)).body);
    assert.equal(again.images[0].png_base64, j.images[0].png_base64);
  });

  test('embedding, mix (linear, slerp, random items), no identity', async () => {
    const e = JSON.parse((await gen({ random_identity: 3, steps: 1, seed: 1 })).body).metadata.identity.embedding as number[];
    assert.equal(e.length, 128);
    const e2 = JSON.parse((await gen({ random_identity: 4, steps: 1, seed: 1 })).body).metadata.identity.embedding as number[];
    let r = await gen({ embedding: e, steps: 1, seed: 1 });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(JSON.parse(r.body).metadata.identity.source, 'embedding');
    r = await gen({ mix: [{ embedding: e, weight: 0.3 }, { embedding: e2, weight: 0.7 }], steps: 1, seed: 1 });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(JSON.parse(r.body).metadata.identity.source, 'mix');
    r = await gen({ mix: [{ embedding: e, weight: 1 }, { embedding: e2, weight: 0 }], mix_method: 'slerp', steps: 1, seed: 1 });
    assert.equal(r.statusCode, 200, r.body);
    const got = JSON.parse(r.body).metadata.identity.embedding as number[];
    assert.ok(got.every((v, i) => Math.abs(v - e[i]) < 1e-4), 'slerp t=0 is the first identity');
    r = await gen({ mix: [{ random_identity: 3, weight: 1 }, { random_identity: 4, weight: 1 }], steps: 1, seed: 1 });
    assert.equal(r.statusCode, 200, r.body);
    r = await gen({ prompt: 'a photo', steps: 1, seed: 1 });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(JSON.parse(r.body).metadata.identity.source, 'none');
  });

  test('parameters out of range, wrong types, unknown fields → 400', async () => {
    const base = { random_identity: 1, steps: 1 };
    const cases: [unknown, string?][] = [
      [{ ...base, steps: 0 }], [{ ...base, steps: 101 }], [{ ...base, steps: 2.5 }], [{ ...base, steps: '2' }],
      [{ ...base, count: 0 }], [{ ...base, count: 9 }], [{ ...base, text_scale: 20.5 }], [{ ...base, face_scale: -1 }],
      [{ ...base, text_scale: 'high' }], [{ ...base, seed: -1 }], [{ ...base, seed: 2 ** 32 }], [{ ...base, seed: 2 ** 32 - 1, count: 2 }, 'invalid_parameter'],
      [{ ...base, sampler: 'plms' }], [{ ...base, prompt: 'x'.repeat(501) }], [{ ...base, prompt: 42 }], [{ ...base, prompt: null }],
      [{ ...base, eta: 0.5, sampler: 'euler' }, 'invalid_parameter'], [{ ...base, eta: 2, sampler: 'ddim' }],
      [{ ...base, bogus: 1 }], [{ ...base, random_identity: -3 }], [{ ...base, random_identity: 'x' }],
      [{ embedding: [1, 2, 3], steps: 1 }, 'bad_embedding'], [{ embedding: new Array(128).fill(0), steps: 1 }, 'bad_embedding'],
      [{ embedding: ['a'], steps: 1 }], [{ embedding: 5 }], [{ mix: [] }], [{ mix: [{ weight: 1 }] }, 'invalid_request'],
      [{ mix: [{ random_identity: 1, weight: 1 }, { random_identity: 2, weight: -1 }] }, 'invalid_parameter'],
      [{ mix: [{ random_identity: 1, weight: 1 }], mix_method: 'slerp' }, 'invalid_request'],
      [{ random_identity: 1, embedding: new Array(128).fill(0.1) }, 'invalid_request'],
      [{ attributes: { Young: 1 }, steps: 1 }], [{ ...base, attributes: { Young: 'yes' } }], [{ ...base, attributes: { Young: 99 } }],
      [{ ...base, face_index: 1 }, 'invalid_request'], [[1, 2, 3]], [{ ...base, mix_method: 'slerp' }, 'invalid_request'],
    ];
    for (const [body, code] of cases) {
      const r = await gen(body);
      const e = err(r, 400, code);
      assert.ok(e.message.length > 0, JSON.stringify(body));
    }
  });

  test('unknown attribute → 400 unknown_attribute; embedder mismatch → 400 embedder_mismatch', async () => {
    err(await gen({ random_identity: 1, steps: 1, attributes: { Not_An_Attribute: 1 } }), 400, 'unknown_attribute');
    const e = new Array(128).fill(0.1);
    err(await gen({ embedding: e, embedder: 'some-other-net@1', steps: 1 }), 400, 'embedder_mismatch');
    const b = JSON.parse((await server.app.inject({ url: '/v1/bundle' })).body);
    const ok = await gen({ embedding: e, embedder: b.embedder, steps: 1 });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  test('bad bodies: invalid JSON 400, wrong content type 415, too large 413, prototype poisoning 400', async () => {
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: '{"steps": 1,', headers: { 'content-type': 'application/json' } }), 400);
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: '', headers: { 'content-type': 'application/json' } }), 400);
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: 'steps=1', headers: { 'content-type': 'text/plain' } }), 415);
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415);
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: facePhoto(), headers: { 'content-type': 'image/jpeg' } }), 415, 'unsupported_media_type');
    err(await server.app.inject({ method: 'POST', url: '/v1/generate' }), 415);
    const big = JSON.stringify({ prompt: 'a', pad: 'x'.repeat(1024 * 1024 + 10) });
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: big, headers: { 'content-type': 'application/json' } }), 413, 'body_too_large');
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: '{"__proto__": {"x": 1}, "steps": 1}', headers: { 'content-type': 'application/json' } }), 400);
    err(await server.app.inject({ method: 'GET', url: '/v1/generate' }), 404);
  });

  test('multipart: bad fields, wrong part type, too large, truncated, no identity photo', async () => {
    err(await genForm([{ name: 'steps', value: 'many' }]), 400, 'invalid_request');
    err(await genForm([{ name: 'steps', value: '0' }]), 400, 'invalid_request');
    err(await genForm([{ name: 'prompt', value: 'y'.repeat(501) }]), 400);
    err(await genForm([{ name: 'bogus', value: '1' }]), 400);
    err(await genForm([{ name: 'attributes', value: '{not json' }]), 400, 'invalid_json');
    err(await genForm([{ name: 'steps', value: '1' }, { name: 'steps', value: '2' }]), 400);
    err(await genForm([{ name: 'face', value: 'hello', filename: 'a.txt', type: 'text/plain' }]), 415, 'unsupported_media_type');
    err(await genForm([{ name: 'photo', value: facePhoto(), filename: 'a.jpg', type: 'image/jpeg' }]), 400, 'unknown_field');
    err(await genForm([imagePart(Buffer.alloc(UPLOAD_LIMIT + 100, 7))]), 413, 'body_too_large');
    err(await genForm([imagePart(Buffer.from('definitely not a jpeg, just text'))]), 422, 'image_decode');
    err(await genForm([imagePart(Buffer.alloc(0))]), 422);
    err(await genForm([imagePart(pngBomb(), 'face', 'image/png')]), 413, 'image_too_large');
    const m = multipart([{ name: 'prompt', value: 'a' }, imagePart(facePhoto())]);
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: m.body.subarray(0, 300), headers: m.headers }), 400, 'bad_multipart');
    err(await server.app.inject({ method: 'POST', url: '/v1/generate', payload: m.body, headers: { 'content-type': 'multipart/form-data' } }), 400);
    err(await genForm([imagePart(facePhoto()), { name: 'random_identity', value: '3' }]), 400, 'invalid_request');
  });

  test('multipart: numeric text fields arrive as numbers (face start, guidance rescale, scales)', async () => {
    const r = await genForm([{ name: 'prompt', value: 'a photo of a person' }, { name: 'random_identity', value: '3' }, { name: 'steps', value: '2' },
      { name: 'text_scale', value: '6' }, { name: 'face_scale', value: '4' }, { name: 'face_start', value: '0.5' }, { name: 'guidance_rescale', value: '0.7' }]);
    assert.equal(r.statusCode, 200, r.body.slice(0, 300));
    const meta = JSON.parse(r.body).metadata;
    assert.deepEqual([meta.text_scale, meta.face_scale, meta.face_start, meta.guidance_rescale], [6, 4, 0.5, 0.7]);
    err(await genForm([{ name: 'random_identity', value: '3' }, { name: 'guidance_rescale', value: '2' }]), 400, 'invalid_request');
  });

  test('multipart face photo: generates when the bundle takes this analyzer, else 400 embedder_mismatch', { skip: !HAVE_DATA && 'no ../shared/data' }, async () => {
    const b = JSON.parse((await server.app.inject({ url: '/v1/bundle' })).body);
    const r = await genForm([imagePart(facePhoto()), { name: 'prompt', value: 'a photo of a person' }, { name: 'steps', value: '1' }, { name: 'seed', value: '5' }]);
    if (b.embedder === b.analyzer_embedder) {
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(JSON.parse(r.body).metadata.identity.source, 'face');
    } else {
      err(r, 400, 'embedder_mismatch');
    }
  });
});

describe('POST /v1/faces', { skip: !HAVE_DATA && 'no ../shared/data' }, () => {
  test('one face: box, landmarks, 128px portrait crop, embedding, embedder', async () => {
    const r = await faces([imagePart(facePhoto(), 'image')]);
    assert.equal(r.statusCode, 200, r.body);
    const j = JSON.parse(r.body);
    assert.equal(j.faces.length, 1);
    assert.equal(j.faces[0].box.length, 4);
    assert.equal(j.faces[0].landmarks5.length, 5);
    assert.ok(j.faces[0].score > 0.5);
    assert.equal(j.embedding.length, 128);
    assert.ok(Math.abs(Math.hypot(...j.embedding) - 1) < 1e-3);
    assert.equal(j.embedder, analyzer.embedderId);
    assert.equal(typeof j.bundle_compatible, 'boolean');
    assert.deepEqual(j.warnings, []);
    const crop = await sharp(Buffer.from(j.crop_png_base64, 'base64')).metadata();
    assert.equal(crop.width, 128);
    assert.equal(crop.height, 128);
    // the same photo as a raw image/jpeg body
    const raw = await server.app.inject({ method: 'POST', url: '/v1/faces', payload: facePhoto(), headers: { 'content-type': 'image/jpeg' } });
    assert.equal(raw.statusCode, 200, raw.body);
    assert.deepEqual(JSON.parse(raw.body).embedding, j.embedding);
  });

  test('several faces: 200, the largest used, a warning; face_index picks another', async () => {
    const img = await twoFaces();
    const r = await faces([imagePart(img, 'image')]);
    assert.equal(r.statusCode, 200, r.body);
    const j = JSON.parse(r.body);
    assert.equal(j.faces.length, 2);
    assert.equal(j.face_index, 0);
    assert.ok(j.faces[0].box[2] * j.faces[0].box[3] >= j.faces[1].box[2] * j.faces[1].box[3]);
    assert.ok(j.warnings.some((w: string) => /2 faces/.test(w)), j.warnings.join());
    const r1 = await faces([imagePart(img, 'image'), { name: 'face_index', value: '1' }]);
    assert.equal(JSON.parse(r1.body).face_index, 1);
    err(await faces([imagePart(img, 'image'), { name: 'face_index', value: '5' }]), 400, 'face_index');
    err(await faces([imagePart(img, 'image'), { name: 'face_index', value: 'x' }]), 400);
  });

  test('no face 422, corrupt 422, bomb 413, wrong type 415, missing image 400, too large 413', async () => {
    err(await faces([imagePart(await noFace(), 'image', 'image/png')]), 422, 'no_face');
    err(await faces([imagePart(facePhoto().subarray(0, 200), 'image')]), 422, 'image_decode');
    err(await faces([imagePart(Buffer.from('GIF89a garbage garbage'), 'image', 'image/gif')]), 422, 'image_decode');
    err(await faces([imagePart(pngBomb(), 'image', 'image/png')]), 413, 'image_too_large');
    err(await server.app.inject({ method: 'POST', url: '/v1/faces', payload: pngBomb(), headers: { 'content-type': 'image/png' } }), 413, 'image_too_large');
    err(await faces([{ name: 'image', value: 'text', filename: 'a.txt', type: 'text/plain' }]), 415);
    err(await faces([{ name: 'face_index', value: '0' }]), 400, 'missing_image');
    err(await faces([imagePart(Buffer.alloc(UPLOAD_LIMIT + 1, 1), 'image')]), 413);
    err(await server.app.inject({ method: 'POST', url: '/v1/faces', payload: Buffer.alloc(UPLOAD_LIMIT + 1, 1), headers: { 'content-type': 'image/jpeg' } }), 413);
    err(await server.app.inject({ method: 'POST', url: '/v1/faces', payload: { image: 'abc' } }), 415);
    err(await server.app.inject({ method: 'POST', url: '/v1/faces', payload: 'x', headers: { 'content-type': 'text/plain' } }), 415);
    err(await faces([imagePart(await sharp({ create: { width: 20, height: 20, channels: 3, background: 'red' } }).png().toBuffer(), 'image', 'image/png')]), 422, 'image_too_small');
  });
});

describe('work queue', () => {
  test('full queue → 429 with Retry-After; timeouts → 504 running, 503 waiting', async () => {
    const s = await createServer({ bundleDir: TINY_BUNDLE, threads: 1, logger: false, analyzer, workers: 1, queue: 3, timeoutMs: 600, verifyBundle: false });
    try {
      await s.loaded;
      // 4 images x 100 steps: well past the 600 ms limit even on a quiet machine (1 image took 580 ms)
      const long = { random_identity: 1, steps: 100, count: 4, seed: 1, prompt: 'a photo' };
      const inj = () => s.app.inject({ method: 'POST', url: '/v1/generate', payload: long });
      // 1 running + 3 waiting; the 5th is refused at once
      const all = await Promise.all([inj(), inj(), inj(), inj(), inj()]);
      const codes = all.map((r) => err(r, r.statusCode).code);
      assert.equal(codes.filter((c) => c === 'queue_full').length, 1, codes.join());
      const refused = all.find((r) => r.statusCode === 429)!;
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      // the running job hits the limit while running (504); jobs still waiting at their limit get 503 + Retry-After
      assert.equal(all[0].statusCode, 504, all[0].body);
      assert.ok(codes.includes('queue_timeout'), codes.join());
      for (const r of all) {
        if (r.statusCode === 503) assert.ok(Number(r.headers['retry-after']) >= 1);
        assert.ok([429, 503, 504].includes(r.statusCode), r.body);
      }
      // the queue drains: a short job succeeds afterwards
      const ok = await s.app.inject({ method: 'POST', url: '/v1/generate', payload: { random_identity: 1, steps: 1 } });
      assert.equal(ok.statusCode, 200, ok.body);
      const m = (await s.app.inject({ url: '/metrics' })).body;
      assert.match(m, /face0_work_rejected_total\{reason="queue_full"\} 1/);
      assert.match(m, /face0_work_rejected_total\{reason="timeout"\} 4/);
    } finally {
      await s.close(500);
    }
  });
});
