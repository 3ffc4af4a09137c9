// A plain static file server for a built site (what any static host does), sending the
// cross-origin isolation headers of the site's _headers file and recording every request.
// Used by the browser bench and the browser tests.
import Fastify from 'fastify';
import fastifyStatic from '@fastify/static';
import { ISOLATION_HEADERS } from './isolation.js';

export interface SeenRequest {
  method: string;
  url: string;
  /** Content-Length of the request body (0: none). */
  bytes: number;
}

export interface StaticSite {
  base: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export async function serveStatic(root: string, opts: { isolate?: boolean; host?: string; port?: number } = {}): Promise<StaticSite> {
  const app = Fastify({ logger: false });
  const requests: SeenRequest[] = [];
  app.addHook('onRequest', async (req) => {
    requests.push({ method: req.method, url: req.url, bytes: Number(req.headers['content-length'] ?? 0) });
  });
  await app.register(fastifyStatic, {
    root,
    index: ['index.html'],
    setHeaders: (res) => {
      if (opts.isolate !== false) for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    },
  });
  const base = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  return { base, requests, close: () => app.close() };
}
