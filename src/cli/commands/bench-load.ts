// `face0 bench load`: N concurrent HTTP clients for T seconds against /v1/generate on loopback;
// prints throughput, latency percentiles, 429s, other errors and the server's peak RSS.
import { Command } from 'commander';
import { createServer, type Face0Server } from '../../server/app.js';
import { intOption } from '../options.js';
import { resolveBundle } from '../shared.js';

interface Flags {
  url?: string;
  bundle?: string;
  clients: number;
  seconds: number;
  steps: number;
  count: number;
  workers: number;
  queue: number;
  threads: number;
  json?: boolean;
}

export interface LoadResult {
  clients: number;
  seconds: number;
  requests: number;
  ok: number;
  rejected429: number;
  otherErrors: number;
  errorSamples: string[];
  throughputRps: number;
  imagesPerS: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  peakRssMb: number;
  baselineRssMb: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function serverRssMb(base: string): Promise<number> {
  const m = await (await fetch(`${base}/metrics`)).text();
  const v = /^face0_process_resident_memory_bytes (\S+)/m.exec(m);
  return v ? Number(v[1]) / 2 ** 20 : NaN;
}

export async function runLoad(base: string, o: { clients: number; seconds: number; steps: number; count: number }): Promise<LoadResult> {
  const baselineRssMb = await serverRssMb(base);
  let peakRssMb = baselineRssMb;
  const latencies: number[] = [];
  let requests = 0, ok = 0, rejected = 0, other = 0;
  const errorSamples: string[] = [];
  const t0 = performance.now();
  const deadline = t0 + o.seconds * 1000;
  let stop = false;
  const poll = (async () => {
    while (!stop) {
      peakRssMb = Math.max(peakRssMb, await serverRssMb(base).catch(() => 0));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  let seed = 1;
  await Promise.all(
    Array.from({ length: o.clients }, async (_, client) => {
      while (performance.now() < deadline) {
        const body = { prompt: 'a photo of a person', random_identity: client, seed: seed++, steps: o.steps, count: o.count };
        const t = performance.now();
        requests++;
        try {
          const res = await fetch(`${base}/v1/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
          const text = await res.text();
          if (res.status === 200) {
            ok++;
            latencies.push(performance.now() - t);
          } else if (res.status === 429) {
            rejected++;
            // back off as told (capped so the run keeps its length)
            const after = Number(res.headers.get('retry-after') ?? 1);
            await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(50, after * 100))));
          } else {
            other++;
            if (errorSamples.length < 5) errorSamples.push(`${res.status} ${text.slice(0, 200)}`);
          }
        } catch (err) {
          other++;
          if (errorSamples.length < 5) errorSamples.push((err as Error).message);
        }
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  stop = true;
  await poll;
  peakRssMb = Math.max(peakRssMb, await serverRssMb(base));
  latencies.sort((a, b) => a - b);
  return {
    clients: o.clients,
    seconds: wall,
    requests,
    ok,
    rejected429: rejected,
    otherErrors: other,
    errorSamples,
    throughputRps: ok / wall,
    imagesPerS: (ok * o.count) / wall,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    maxMs: latencies.at(-1) ?? NaN,
    peakRssMb,
    baselineRssMb,
  };
}

export function register(program: Command): void {
  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks and measurements');
  bench
    .command('load')
    .description('load test: N concurrent clients for T seconds against /v1/generate on loopback (starts its own server unless --url)')
    .option('--url <base>', 'an already running face0 server (e.g. http://127.0.0.1:8080)')
    .option('--bundle <dir>', 'bundle for the server this command starts (default: models/face0-64, else the tiny test bundle)')
    .option('--clients <n>', 'concurrent clients', intOption, 8)
    .option('--seconds <t>', 'duration', intOption, 20)
    .option('--steps <n>', 'sampler steps per request', intOption, 10)
    .option('--count <n>', 'images per request', intOption, 1)
    .option('--workers <n>', 'server workers (own server only)', intOption, 1)
    .option('--queue <n>', 'server queue capacity (own server only)', intOption, 4)
    .option('--threads <n>', 'ONNX threads per worker (own server only)', intOption, 1)
    .option('--json', 'print the result as JSON')
    .action(async (f: Flags) => {
      let server: Face0Server | undefined;
      let base = f.url?.replace(/\/$/, '');
      if (!base) {
        const bundleDir = resolveBundle(f.bundle, (msg) => console.error(msg));
        server = await createServer({ bundleDir, workers: f.workers, queue: f.queue, threads: f.threads, logger: false, verifyBundle: false });
        await server.loaded;
        base = await server.app.listen({ host: '127.0.0.1', port: 0 });
        console.error(`server: ${base}, bundle ${bundleDir}, ${f.workers} worker(s) × ${f.threads} thread(s), queue ${f.queue}`);
      }
      try {
        const r = await runLoad(base, { clients: f.clients, seconds: f.seconds, steps: f.steps, count: f.count });
        if (f.json) {
          console.log(JSON.stringify(r, null, 2));
        } else {
          console.log(`clients ${r.clients}, ${r.seconds.toFixed(1)} s, ${f.steps} steps × ${f.count} image(s) per request`);
          console.log(`requests ${r.requests}: ok ${r.ok}, 429 ${r.rejected429}, other errors ${r.otherErrors}`);
          console.log(`throughput ${r.throughputRps.toFixed(2)} req/s (${r.imagesPerS.toFixed(2)} images/s)`);
          console.log(`latency (ok) p50 ${r.p50Ms.toFixed(0)} ms, p95 ${r.p95Ms.toFixed(0)} ms, max ${r.maxMs.toFixed(0)} ms`);
          console.log(`server RSS baseline ${r.baselineRssMb.toFixed(0)} MB, peak ${r.peakRssMb.toFixed(0)} MB`);
          for (const e of r.errorSamples) console.log(`error: ${e}`);
        }
        if (r.otherErrors > 0) process.exitCode = 1;
      } finally {
        await server?.close(1000);
      }
    });
}
