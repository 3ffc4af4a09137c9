// The static site in real Chromium: `face0 build-web` with the tiny bundle, served by a plain
// static server; a real face photo through window.face0 (as a File from the page's file input)
// gives the same images as `face0 generate` in Node at the same seed and the bundle's defaults;
// every request the page makes is a GET to its own origin, and none carries the photo.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { cli } from '../helpers/cli.js';
import { HAVE_CHROMIUM, launchChromium, NO_CHROMIUM } from '../helpers/chromium.js';
import { FACE_A, HAVE_DATA, noFace } from '../server/helpers.js';
import { TINY_BUNDLE } from '../helpers/fixture.js';
import { serveStatic, type StaticSite } from '../../src/site/static-server.js';

const skip = !HAVE_CHROMIUM ? NO_CHROMIUM : !HAVE_DATA ? 'no ../shared/data face photos' : false;
const PROMPT = 'a photo of a person smiling';
const SEED = 7;

let tmp: string;
let site: StaticSite;
let browser: Browser;

/** Interleaved RGB bytes of a PNG. */
async function rgb(png: Buffer): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

function meanAbsDiff(a: Buffer, b: Buffer): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), 'face0-web-'));
  await cli(['build-web', '--bundle', TINY_BUNDLE, '--out', join(tmp, 'site')]);
  site = await serveStatic(join(tmp, 'site'));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await site?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function openPage(): Promise<{ page: Page; requests: { method: string; url: string; body: string | null }[]; errors: string[] }> {
  const page = await browser.newPage();
  const requests: { method: string; url: string; body: string | null }[] = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData() }));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(site.base + '/');
  await page.waitForFunction(() => (window as unknown as { face0?: unknown }).face0 !== undefined);
  return { page, requests, errors };
}

test('build-web site in Chromium: window.face0 matches face0 generate at the same seed; only same-origin GETs, no photo sent', { skip, timeout: 180_000 }, async (t) => {
  // Node: `face0 generate` at the bundle's defaults (no --steps, no scales)
  const nodeOut = join(tmp, 'node');
  await cli(['generate', '--bundle', TINY_BUNDLE, '--face', FACE_A, '--prompt', PROMPT, '--seed', String(SEED), '--count', '2', '--threads', '2', '--out', nodeOut, '-q']);
  const nodeSide = JSON.parse(readFileSync(join(nodeOut, `face0-${SEED}.json`), 'utf8'));
  const nodePng = [SEED, SEED + 1].map((s) => readFileSync(join(nodeOut, `face0-${s}.png`)));
  assert.deepEqual(readdirSync(nodeOut).filter((f) => f.endsWith('.png')).sort(), [`face0-${SEED}.png`, `face0-${SEED + 1}.png`]);

  // the browser: the same photo as a File from the page's file input
  const { page, requests, errors } = await openPage();
  await page.setInputFiles('#photo', FACE_A);
  const r = await page.evaluate(async ({ prompt, seed }) => {
    const f = (window as unknown as { face0: { ready: Promise<{ threads: number; cross_origin_isolated: boolean }>; generateDetailed(o: unknown): Promise<{ images: { dataUrl: string; seed: number }[]; metadata: Record<string, unknown> }>; generate(o: unknown): Promise<string[]> } }).face0;
    const info = await f.ready;
    const photo = (document.getElementById('photo') as HTMLInputElement).files![0];
    const urls = await f.generate({ photo, prompt, seed, count: 2 });
    const detailed = await f.generateDetailed({ photo, prompt, seed, count: 1 });
    return { info, urls, metadata: detailed.metadata, again: detailed.images[0].dataUrl };
  }, { prompt: PROMPT, seed: SEED });

  assert.equal(r.urls.length, 2);
  const browserPng = r.urls.map((u) => Buffer.from(u.replace(/^data:image\/png;base64,/, ''), 'base64'));
  const [b0, b1, n0, n1, again] = await Promise.all([...browserPng, ...nodePng, Buffer.from(r.again.split(',')[1], 'base64')].map(rgb));
  const same0 = meanAbsDiff(b0, n0), same1 = meanAbsDiff(b1, n1), other = meanAbsDiff(b0, n1);
  t.diagnostic(`mean |Δ| browser vs Node: ${same0.toFixed(4)}, ${same1.toFixed(4)}; other seed ${other.toFixed(2)}`);
  assert.ok(same0 <= 2 && same1 <= 2, `browser vs Node at the same seed: mean |Δ| ${same0.toFixed(3)}, ${same1.toFixed(3)} (≤ 2 on 0–255)`);
  assert.ok(other > 4 * Math.max(same0, same1, 0.25), `another seed differs clearly (${other.toFixed(2)}): the comparison can tell images apart`);
  assert.equal(meanAbsDiff(b0, again), 0, 'the same seed in the browser twice gives the same pixels');

  // the same defaults as the CLI, and the photo went through face analysis
  for (const k of ['steps', 'sampler', 'text_scale', 'face_scale', 'face_start', 'guidance_rescale', 'timestep_spacing', 'seeds'] as const) {
    assert.deepEqual((r.metadata as Record<string, unknown>)[k], k === 'seeds' ? [SEED] : nodeSide[k], k);
  }
  assert.equal((r.metadata.identity as { source: string }).source, 'face');
  const eb = (r.metadata.identity as { embedding: number[] }).embedding, en = nodeSide.identity.embedding as number[];
  const cos = eb.reduce((s, v, i) => s + v * en[i], 0);
  assert.ok(cos > 0.999, `browser and Node face embeddings agree (cosine ${cos.toFixed(5)})`);
  assert.ok(r.info.cross_origin_isolated && r.info.threads > 1, 'wasm threads on a cross-origin isolated page');

  // requests: only GETs to this origin; none carries a body (the photo stays on the device)
  const own = new URL(site.base).origin;
  const foreign = requests.filter((q) => !q.url.startsWith('data:') && !q.url.startsWith('blob:') && new URL(q.url).origin !== own);
  assert.deepEqual(foreign, []);
  assert.deepEqual(requests.filter((q) => q.method !== 'GET' || q.body !== null), []);
  assert.deepEqual(site.requests.filter((q) => q.method !== 'GET' || q.bytes > 0), []);
  const photoName = basename(FACE_A);
  assert.deepEqual(requests.filter((q) => q.url.includes(photoName)), []);
  assert.ok(requests.some((q) => q.url.endsWith('/bundle/unet.onnx')), 'the model came from the site');
  assert.deepEqual(errors, []);
  const paths = [...new Set(requests.map((q) => `${q.method} ${/^(data|blob):/.test(q.url) ? q.url.slice(0, 5) + '…' : new URL(q.url).pathname}`))];
  t.diagnostic(`${requests.length} requests: ${paths.join(', ')}`);
  await page.close();
});

test('build-web site in Chromium: a photo without a face gets the CLI\'s message', { skip, timeout: 60_000 }, async () => {
  const { page } = await openPage();
  const png = await noFace();
  const message = await page.evaluate(async (bytes) => {
    const f = (window as unknown as { face0: { faces(p: Blob): Promise<unknown> } }).face0;
    const file = new File([new Uint8Array(bytes)], 'gradient.png', { type: 'image/png' });
    return f.faces(file).then(() => 'no error', (e: Error) => e.message);
  }, [...png]);
  assert.equal(message, 'gradient.png: no face found');
  const junk = await page.evaluate(async () => {
    const f = (window as unknown as { face0: { generate(o: unknown): Promise<unknown> } }).face0;
    return f.generate({ photo: new File([new Uint8Array([1, 2, 3])], 'junk.jpg'), prompt: '' }).then(() => 'no error', (e: Error) => e.message);
  });
  assert.match(junk, /^junk\.jpg: cannot read image/);
  await page.close();
});

test('build-web site in Chromium: the page loads the models with a byte count, finds the face and generates on this device', { skip, timeout: 90_000 }, async () => {
  const { page, requests, errors } = await openPage();
  await page.waitForFunction(() => /^models loaded \([\d.]+ MB\)/.test(document.getElementById('load-status')!.textContent ?? ''), null, { timeout: 60_000 });
  assert.equal(await page.isChecked('input[name=where][value=device]'), true, 'on this device by default');
  assert.equal(await page.isVisible('input[name=where][value=server]'), false, 'a static site has no server to offer');
  assert.match((await page.textContent('#privacy')) ?? '', /stays on this device/);
  const [loaded, max] = await page.$eval('#load-progress', (p) => [(p as HTMLProgressElement).value, (p as HTMLProgressElement).max]);
  // the runtime's wasm (29 MB), face-api's weights (13 MB) and the tiny bundle (2 MB)
  assert.ok(loaded > 40e6 && loaded === max, `load bar: ${loaded} of ${max} bytes`);
  await page.waitForFunction(() => document.getElementById('bundle-info')!.textContent!.startsWith('Model:'));

  await page.setInputFiles('#photo', FACE_A);
  await page.waitForSelector('#photo-preview img.face-crop', { timeout: 20_000 });
  assert.match((await page.textContent('#photo-preview')) ?? '', /1 face found/);
  await page.fill('#steps', '3');
  await page.fill('#count', '1');
  await page.fill('#seed', '11');
  await page.click('#generate');
  await page.waitForFunction(() => /image\(s\) in/.test(document.getElementById('status')!.textContent ?? ''), null, { timeout: 30_000 });
  assert.equal(await page.getAttribute('#progress', 'value'), '3', 'progress reached the last step');
  assert.deepEqual(await page.$$eval('#results a[download]', (as) => as.map((a) => (a as HTMLAnchorElement).download)), ['face0-11.png']);
  assert.deepEqual(requests.filter((q) => q.method !== 'GET' || q.body !== null || q.url.includes('/v1/')), []);
  assert.deepEqual(errors, []);
  await page.close();
});
