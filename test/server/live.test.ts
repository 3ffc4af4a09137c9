// A real listening server on 127.0.0.1: server-sent progress events, and a client that goes away
// aborts its generation (the worker is freed long before the job would have finished).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Face0Server } from '../../src/server/app.js';
import { sharedAnalyzer, TINY_BUNDLE } from './helpers.js';

let server: Face0Server;
let base: string;

before(async () => {
  server = await createServer({ bundleDir: TINY_BUNDLE, threads: 1, logger: false, analyzer: await sharedAnalyzer(), verifyBundle: false });
  await server.loaded;
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => server?.close(500));

async function readEvents(res: Response, onEvent?: (ev: { event: string; data: any }) => boolean | void) {
  const events: { event: string; data: any }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = { event: /^event: (.*)$/m.exec(chunk)![1], data: JSON.parse(/^data: (.*)$/m.exec(chunk)![1]) };
      events.push(ev);
      if (onEvent?.(ev) === true) {
        await reader.cancel();
        return events;
      }
    }
  }
  return events;
}

test('SSE: queued, started, one progress event per step, then the result', async () => {
  const res = await fetch(`${base}/v1/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ prompt: 'a photo', random_identity: 2, steps: 5, count: 2, seed: 3 }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /text\/event-stream/);
  const events = await readEvents(res);
  const names = events.map((e) => e.event);
  assert.deepEqual(names.slice(0, 2), ['queued', 'started']);
  const progress = events.filter((e) => e.event === 'progress');
  assert.ok(progress.length >= 5, names.join());
  assert.deepEqual(progress.at(-1)!.data, { step: 5, total: 5 });
  const result = events.at(-1)!;
  assert.equal(result.event, 'result');
  assert.equal(result.data.images.length, 2);
  assert.equal(result.data.metadata.steps, 5);
});

test('SSE: a validation error is still a JSON 4xx before the stream starts; a pipeline error is an error event', async () => {
  const res = await fetch(`${base}/v1/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ steps: 500 }),
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, 'invalid_request');
});

test('client disconnect aborts the work and frees the worker', async () => {
  const ac = new AbortController();
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ prompt: 'a photo', random_identity: 2, steps: 100, count: 4, seed: 3 }),
    signal: ac.signal,
  });
  await readEvents(res, (ev) => ev.event === 'progress' && ev.data.step >= 2).catch(() => undefined);
  ac.abort();
  const tAbort = performance.now();
  // 100 steps × 4 images takes several seconds; the worker must be free well before that
  while (server.ctx.gen!.stats.running > 0) {
    assert.ok(performance.now() - tAbort < 2000, 'the generation was not aborted');
    await new Promise((r) => setTimeout(r, 20));
  }
  const freedAfter = performance.now() - tAbort;
  assert.ok(freedAfter < 2000, `freed after ${freedAfter} ms`);
  await new Promise((r) => setTimeout(r, 50));
  const m = await (await fetch(`${base}/metrics`)).text();
  assert.match(m, /face0_work_rejected_total\{reason="client_gone"\} 1/);
  assert.match(m, /face0_http_requests_total\{method="POST",route="\/v1\/generate",status="499"\} 1/, m.split("\n").filter((l) => l.startsWith("face0_http_requests")).join("\n"));
  // a plain JSON request that disconnects is aborted too
  const ac2 = new AbortController();
  const p = fetch(`${base}/v1/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ random_identity: 2, steps: 100, count: 4 }),
    signal: ac2.signal,
  }).catch((e: Error) => e);
  while (server.ctx.gen!.stats.running === 0) await new Promise((r) => setTimeout(r, 10));
  ac2.abort();
  await p;
  const t1 = performance.now();
  while (server.ctx.gen!.stats.running > 0) {
    assert.ok(performance.now() - t1 < 2000, 'the JSON generation was not aborted');
    await new Promise((r) => setTimeout(r, 20));
  }
  // and the server still answers
  const ok = await fetch(`${base}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ random_identity: 1, steps: 1 }) });
  assert.equal(ok.status, 200);
  assert.ok(performance.now() - t0 < 8000);
});
