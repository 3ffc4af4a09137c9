// Prometheus metrics (prom-client), one registry per server instance (tests run several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueStats } from './queue.js';

export interface ServerMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  latency: Histogram<'method' | 'route'>;
  errors: Counter<'code' | 'route'>;
  images: Counter<string>;
  rejected: Counter<'reason'>;
}

export function createMetrics(queues: Record<string, () => QueueStats>): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'face0_' });
  const requests = new Counter({
    name: 'face0_http_requests_total',
    help: 'HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'face0_http_request_duration_seconds',
    help: 'HTTP request latency (until the response is finished) by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'face0_errors_total',
    help: 'Error responses by error code and route',
    labelNames: ['code', 'route'] as const,
    registers: [registry],
  });
  const images = new Counter({ name: 'face0_images_generated_total', help: 'Images generated', registers: [registry] });
  const rejected = new Counter({
    name: 'face0_work_rejected_total',
    help: 'Jobs refused or dropped (queue_full, timeout, client_gone)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const [name, stats] of Object.entries(queues)) {
    new Gauge({
      name: `face0_${name}_queue_depth`,
      help: `Jobs waiting in the ${name} queue`,
      registers: [registry],
      collect() {
        this.set(stats().waiting);
      },
    });
    new Gauge({
      name: `face0_${name}_running`,
      help: `Jobs running in the ${name} queue`,
      registers: [registry],
      collect() {
        this.set(stats().running);
      },
    });
  }
  return { registry, requests, latency, errors, images, rejected };
}
