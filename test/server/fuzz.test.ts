// Fuzz: ≥ 1,000 malformed / hostile requests (random bytes, broken request lines, huge headers,
// truncated multipart, wrong types, random JSON, wrong content types) against a live server on
// 127.0.0.1 in a child process. Every one must get a 4xx, the server must stay up, and its RSS
// must come back near the baseline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { facePhoto, HAVE_DATA, multipart, pngBomb, REPO_ROOT } from './helpers.js';
import { mulberry32 } from '../../src/data/random.js';

const N = Number(process.env.FACE0_FUZZ_N ?? 1200);
const CONCURRENCY = 8;
let child: ChildProcess;
let host = '127.0.0.1';
let port = 0;

before(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./serve-child.ts', import.meta.url))], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const u = new URL(url);
  host = u.hostname;
  port = Number(u.port);
});
after(() => {
  child?.kill('SIGTERM');
});

/** Send raw bytes, return the status code of the first response (0 when none came). The socket is not
 *  half-closed: Node's HTTP server drops half-closed connections before answering (httpAllowHalfOpen). */
function raw(bytes: Buffer, endAfterWrite = false, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let data = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 0);
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on('data', (d) => {
      data += d.toString('latin1');
      // a complete status line is all we need
      if (/^HTTP\/1\.[01] \d{3}[^\n]*\n/.test(data) && data.includes('\r\n\r\n')) finish();
    });
    sock.on('error', finish);
    sock.on('close', finish);
    sock.write(bytes, () => {
      if (endAfterWrite) sock.end();
    });
  });
}

function request(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Buffer {
  const b = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const h = { host: `${host}:${port}`, connection: 'close', ...(body !== undefined && !('content-length' in headers) && !('transfer-encoding' in headers) ? { 'content-length': String(b.length) } : {}), ...headers };
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

// seeded PRNG (mulberry32): a failing case can be replayed
const rng = mulberry32;

type Case = { name: string; bytes: Buffer; endAfterWrite?: boolean };

function makeCase(i: number, photo: Buffer): Case {
  const r = rng(1000 + i);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)];
  const randBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const randomJson = (depth = 0): unknown => {
    const k = int(depth > 3 ? 4 : 7);
    if (k === 0) return r() * 1e6 - 5e5;
    if (k === 1) return randBytes(int(20)).toString('latin1');
    if (k === 2) return pick([null, true, false, -1, 1e308, '', 'NaN']);
    if (k === 3) return int(2) ? '\u0000\ud800' : '💥'.repeat(int(50));
    if (k === 4) return Array.from({ length: int(5) }, () => randomJson(depth + 1));
    const o: Record<string, unknown> = {};
    for (let j = 0; j < int(6); j++) o[pick(['prompt', 'steps', 'count', 'seed', 'text_scale', 'face_scale', 'embedding', 'mix', 'attributes', 'random_identity', 'sampler', 'x', '__proto__', 'constructor'])] = randomJson(depth + 1);
    return o;
  };
  const target = pick(['/v1/generate', '/v1/faces']);
  const kind = i % 16;
  switch (kind) {
    case 0:
      return { name: 'random bytes', bytes: randBytes(1 + int(2000)) };
    case 1:
      return { name: 'broken request line', bytes: Buffer.from(`${pick(['GET', 'POST', 'BREW', ''])} ${randBytes(int(30)).toString('latin1').replace(/[\r\n]/g, '')} HTTP/${pick(['1.1', '9.9', 'x'])}\r\n\r\n`, 'latin1') };
    case 2:
      return { name: 'huge header', bytes: request('POST', target, { 'x-big': 'a'.repeat(20_000 + int(50_000)), 'content-type': 'application/json' }, '{}') };
    case 3:
      return { name: 'many headers', bytes: request('GET', '/v1/bundle', Object.fromEntries(Array.from({ length: 2100 }, (_, j) => [`x-h${j}`, 'v'.repeat(int(5))]))) };
    case 4: {
      const body = JSON.stringify(randomJson()) ?? 'null';
      // always at least one invalid member so that nothing valid slips through to generation
      const invalid = `"steps":${pick(['0', '101', '"x"', '1.5', 'null', '[]'])}`;
      const bad = body === '{}' ? `{${invalid}}` : body.startsWith('{') ? body.replace(/^\{/, `{${invalid},`) : body;
      return { name: 'random JSON', bytes: request('POST', '/v1/generate', { 'content-type': 'application/json' }, bad) };
    }
    case 5: {
      const body = randBytes(int(500)).toString('latin1');
      return { name: 'invalid JSON', bytes: request('POST', target, { 'content-type': 'application/json' }, '{' + body) };
    }
    case 6: {
      const wrong = pick([{ steps: 'twenty' }, { count: 1e9 }, { prompt: 'p'.repeat(501 + int(5000)) }, { text_scale: -1 }, { seed: -5 }, { embedding: 'abc' }, { mix: 3 }, { attributes: [1] }, { attributes: { Bogus: 1 }, random_identity: 1 }, { random_identity: 1.5 }, { sampler: 7 }, { embedding: [1, 2], embedder: 'x' }]);
      return { name: 'wrong types/ranges', bytes: request('POST', '/v1/generate', { 'content-type': 'application/json' }, JSON.stringify(wrong)) };
    }
    case 7:
    case 8: {
      const m = multipart([
        { name: 'prompt', value: 'a photo' },
        { name: 'steps', value: '0' },
        { name: target === '/v1/faces' ? 'image' : 'face', value: photo, filename: 'a.jpg', type: 'image/jpeg' },
      ]);
      const cut = 10 + int(m.body.length - 60);
      return { name: 'truncated multipart', bytes: request('POST', target, m.headers, m.body.subarray(0, cut)) };
    }
    case 9: {
      const boundary = pick(['', 'x', '-'.repeat(80), randBytes(10).toString('hex')]);
      return { name: 'broken multipart', bytes: request('POST', target, { 'content-type': `multipart/form-data${boundary ? `; boundary=${boundary}` : ''}` }, randBytes(int(3000))) };
    }
    case 10:
      return { name: 'wrong content type', bytes: request('POST', target, { 'content-type': pick(['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'video/mp4', 'foo', 'multipart/mixed; boundary=x']) }, randBytes(int(200))) };
    case 11:
      return { name: 'declared body too large', bytes: request('POST', target, { 'content-type': pick(['application/json', 'image/jpeg']), 'content-length': String(500_000_000 + int(1e9)) }, 'x') };
    case 12: {
      const junk = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randBytes(int(3000))]);
      return { name: 'corrupt image', bytes: request('POST', '/v1/faces', { 'content-type': 'image/jpeg' }, pick([junk, pngBomb(20_000 + int(40_000), 20_000 + int(40_000)), photo.subarray(0, 100 + int(200))])) };
    }
    case 13:
      return { name: 'bad path/method', bytes: request(pick(['GET', 'PUT', 'DELETE', 'PATCH', 'POST']), pick(['/v1/%zz', '/v1/../../etc/passwd', '/%00', `/${randBytes(8).toString('hex')}`, '/v1/generate', '/v1/faces?face_index=x', '/v1/faces?face_index=99']), {}, pick([undefined, 'x'])) };
    case 14:
      return { name: 'bad chunked encoding', bytes: Buffer.from(`POST ${target} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${pick(['zz', '-1', 'fffffffffffffffffff', '5'])}\r\n{"a":\r\n0\r\n\r\n`) };
    default: {
      const m = multipart([
        { name: pick(['steps', 'count', 'seed', 'attributes', 'bogus', 'face_index']), value: randBytes(int(40)).toString('latin1') },
        { name: 'steps', value: '0' },
      ]);
      return { name: 'random form fields', bytes: request('POST', '/v1/generate', m.headers, m.body) };
    }
  }
}

async function rssMb(): Promise<number> {
  const m = await (await fetch(`http://${host}:${port}/metrics`)).text();
  return Number(/^face0_process_resident_memory_bytes (\S+)/m.exec(m)![1]) / 2 ** 20;
}

test(`fuzz: ${N} hostile requests → all 4xx, server up, RSS near baseline`, { timeout: 120_000 }, async () => {
  const photo = HAVE_DATA ? facePhoto() : pngBomb(300, 300);
  // warm-up, then the baseline
  for (let i = 0; i < 32; i++) await raw(makeCase(100_000 + i, photo).bytes);
  const base = await rssMb();
  const t0 = performance.now();
  const failures: string[] = [];
  const byKind = new Map<string, Map<number, number>>();
  let next = 0;
  let peak = base;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const c = makeCase(i, photo);
        const status = await raw(c.bytes, c.endAfterWrite ?? false);
        const counts = byKind.get(c.name) ?? new Map<number, number>();
        counts.set(status, (counts.get(status) ?? 0) + 1);
        byKind.set(c.name, counts);
        if (!(status >= 400 && status < 500)) failures.push(`case ${i} (${c.name}): status ${status || 'none'}`);
        if (i % 200 === 0) peak = Math.max(peak, await rssMb());
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const health = await fetch(`http://${host}:${port}/healthz`);
  assert.equal(health.status, 200, 'the server is still up');
  assert.equal(child.exitCode, null);
  await new Promise((r) => setTimeout(r, 300));
  const end = await rssMb();
  const summary = [...byKind].map(([k, m]) => `${k}: ${[...m].map(([s, n]) => `${s}×${n}`).join(' ')}`).join('; ');
  console.log(`fuzz: ${N} requests in ${seconds.toFixed(1)} s; RSS baseline ${base.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, end ${end.toFixed(0)} MB\n${summary}`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} requests without a 4xx`);
  assert.ok(end < base + Math.max(100, base * 0.5), `RSS ${end.toFixed(0)} MB did not return near the baseline ${base.toFixed(0)} MB`);
});
