// A bounded in-process work queue: N workers (each owns a resource, e.g. one pipeline, since the
// pipeline's generate() is not re-entrant), at most `capacity` jobs waiting. A job waiting in the
// queue is dropped when its AbortSignal fires; a running job gets the signal too.
import { QueueFullError } from './errors.js';

export interface QueueStats {
  waiting: number;
  running: number;
  workers: number;
  capacity: number;
}

interface Job<W> {
  run: (worker: W) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  onStart?: () => void;
}

export class WorkQueue<W> {
  private readonly idle: W[];
  private readonly waiting: Job<W>[] = [];
  private runningCount = 0;
  /** Mean job seconds (exponential moving average), for Retry-After. */
  private meanJobS = 1;

  constructor(
    readonly workers: readonly W[],
    readonly capacity: number,
  ) {
    if (workers.length < 1) throw new Error('a work queue needs at least one worker');
    this.idle = [...workers];
  }

  get stats(): QueueStats {
    return { waiting: this.waiting.length, running: this.runningCount, workers: this.workers.length, capacity: this.capacity };
  }

  /** A new job would be refused. */
  get full(): boolean {
    return this.idle.length === 0 && this.waiting.length >= this.capacity;
  }

  /** Seconds a client should wait before retrying when the queue is full. */
  retryAfterS(): number {
    const ahead = this.waiting.length + this.runningCount;
    return Math.max(1, Math.min(600, Math.ceil((this.meanJobS * ahead) / this.workers.length)));
  }

  /** Run a job on a free worker, or queue it; throws QueueFullError (synchronously) when full. */
  run<T>(fn: (worker: W) => Promise<T>, opts: { signal?: AbortSignal; onStart?: () => void } = {}): Promise<T> {
    if (this.full) throw new QueueFullError(this.retryAfterS());
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
    return new Promise<T>((resolve, reject) => {
      const job: Job<W> = { run: fn, resolve: resolve as (v: unknown) => void, reject, signal: opts.signal, onStart: opts.onStart };
      if (opts.signal) {
        job.onAbort = () => {
          const i = this.waiting.indexOf(job);
          if (i >= 0) {
            this.waiting.splice(i, 1);
            reject(opts.signal!.reason);
          }
        };
        opts.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.waiting.push(job);
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      const worker = this.idle.pop()!;
      this.runningCount++;
      const t0 = performance.now();
      job.onStart?.();
      let p: Promise<unknown>;
      try {
        p = job.run(worker);
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(job.resolve, job.reject).finally(() => {
        if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
        this.meanJobS = 0.8 * this.meanJobS + 0.2 * ((performance.now() - t0) / 1000);
        this.runningCount--;
        this.idle.push(worker);
        this.pump();
      });
    }
  }
}

/** A one-at-a-time lock (the face analyzer runs tfjs on one wasm thread; keep calls serial). */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
