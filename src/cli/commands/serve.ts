// `face0 serve`: the HTTP API and the web page (src/server/).
import { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../../server/app.js';
import { buildSite } from '../../site/build-site.js';
import { intOption } from '../options.js';
import { resolveBundle } from '../shared.js';

interface Flags {
  host: string;
  port: number;
  bundle?: string;
  workers: number;
  queue: number;
  timeout: number;
  threads?: number;
  maxUploadMb: number;
  maxPixels: number;
  verify: boolean;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API (/v1/generate, /v1/faces, /v1/bundle, /openapi.json, /metrics) and the web page at / (which generates on the visitor\'s device by default, or on this server)')
    .option('--host <host>', 'address to listen on (127.0.0.1 = this machine only)', '127.0.0.1')
    .option('--port <port>', 'port', intOption, 8080)
    .option('--bundle <dir>', 'model bundle folder (default: models/face0-64, else the tiny test bundle)')
    .option('--workers <n>', 'generation workers, one pipeline each', intOption, 1)
    .option('--queue <n>', 'jobs allowed to wait when all workers are busy (more → 429)', intOption, 16)
    .option('--timeout <seconds>', 'per-request time limit, queue wait included', intOption, 120)
    .option('--threads <n>', 'ONNX Runtime threads per worker (default: cores / workers)', intOption)
    .option('--max-upload-mb <n>', 'largest image upload in MiB', intOption, 10)
    .option('--max-pixels <n>', 'largest image in pixels (decompression-bomb guard)', intOption, 25_000_000)
    .option('--no-verify', 'skip the sha256 check of the bundle files on start')
    .option('--log-level <level>', 'pino log level (fatal, error, warn, info, debug)', 'info')
    .action(async (f: Flags) => {
      if (f.port < 0 || f.port > 65535) throw new Error(`--port must be in [0, 65535], got ${f.port}`);
      if (f.workers < 1 || f.workers > 64) throw new Error(`--workers must be in [1, 64], got ${f.workers}`);
      if (f.queue < 0) throw new Error(`--queue must be ≥ 0, got ${f.queue}`);
      if (f.timeout < 1) throw new Error(`--timeout must be ≥ 1 second, got ${f.timeout}`);
      const bundleDir = resolveBundle(f.bundle, (msg) => console.error(msg));
      // the page with its browser bundle, so visitors can also generate on their own device
      const webDir = mkdtempSync(join(tmpdir(), 'face0-site-'));
      process.once('exit', () => rmSync(webDir, { recursive: true, force: true }));
      await buildSite({ bundleDir, out: webDir, withServer: true });
      const server = await createServer({
        webDir,
        bundleDir,
        workers: f.workers,
        queue: f.queue,
        timeoutMs: f.timeout * 1000,
        threads: f.threads,
        maxUploadBytes: f.maxUploadMb * 1024 * 1024,
        maxPixels: f.maxPixels,
        verifyBundle: f.verify,
        logger: { level: f.logLevel },
      });
      // listen at once (/healthz answers, /readyz says 503 until loaded), then load
      const address = await server.app.listen({ host: f.host, port: f.port });
      console.error(`face0: serving on ${address} (bundle ${bundleDir}); loading…`);
      try {
        await server.loaded;
      } catch (err) {
        await server.close();
        throw err;
      }
      console.error(`face0: ready — open ${address}/ (API: ${address}/openapi.json)`);
      let closing = false;
      const stop = (sig: string) => {
        if (closing) process.exit(1);
        closing = true;
        console.error(`face0: ${sig}, closing (finishing running requests)…`);
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
