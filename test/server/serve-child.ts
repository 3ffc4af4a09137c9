// A face0 server in its own process (fuzz and load tests measure its RSS): prints its URL.
import { createServer } from '../../src/server/app.js';
import { TINY_BUNDLE } from './helpers.js';

const workers = Number(process.env.FACE0_WORKERS ?? 1);
const server = await createServer({
  bundleDir: process.env.FACE0_BUNDLE ?? TINY_BUNDLE,
  threads: 1,
  workers,
  queue: Number(process.env.FACE0_QUEUE ?? 8),
  logger: false,
  verifyBundle: false,
  maxUploadBytes: 2 * 1024 * 1024,
});
await server.loaded;
const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`LISTENING ${url}\n`);
process.on('SIGTERM', () => void server.close(500).then(() => process.exit(0)));
