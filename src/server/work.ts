// Per-request work control: a time limit and client-disconnect both abort the request's signal;
// the reason tells which (TimeoutAbort before the job started → 503, while running → 504).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ClientGone, HttpError, TimeoutAbort } from './errors.js';
import type { ServerMetrics } from './metrics.js';

export class RequestWork {
  readonly controller = new AbortController();
  started = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onClose: () => void;

  constructor(
    private readonly req: FastifyRequest,
    private readonly reply: FastifyReply,
    readonly timeoutMs: number,
    private readonly metrics: ServerMetrics,
  ) {
    this.timer = setTimeout(() => this.controller.abort(new TimeoutAbort(timeoutMs)), timeoutMs);
    this.timer.unref();
    this.onClose = () => {
      if (!reply.raw.writableFinished) this.controller.abort(new ClientGone());
    };
    reply.raw.once('close', this.onClose);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Translate an error thrown under this request's signal into what the client should see. */
  explain(err: unknown, retryAfterS: () => number): unknown {
    const reason = this.signal.aborted ? this.signal.reason : undefined;
    if (reason instanceof TimeoutAbort) {
      this.metrics.rejected.inc({ reason: 'timeout' });
      if (!this.started) {
        return new HttpError(503, 'queue_timeout', `request waited ${this.timeoutMs} ms in the queue without starting; the server is overloaded`, { 'retry-after': String(retryAfterS()) });
      }
      return new HttpError(504, 'timeout', `request took longer than ${this.timeoutMs} ms and was stopped`);
    }
    if (reason instanceof ClientGone) {
      this.metrics.rejected.inc({ reason: 'client_gone' });
      this.req.log.info('client disconnected; work aborted');
      return reason;
    }
    return err;
  }

  done(): void {
    clearTimeout(this.timer);
    this.reply.raw.removeListener('close', this.onClose);
  }
}
