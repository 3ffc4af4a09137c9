// HTTP errors of the face0 server: every failure becomes `{ error: { code, message } }` with a
// status code; bad input is always a 4xx (never a 500), see mapError().
import { BundleError } from '../model/bundle.js';
import { FaceInputError } from '../face/errors.js';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The work queue is full: 429 with Retry-After. */
export class QueueFullError extends HttpError {
  constructor(retryAfterS: number) {
    super(429, 'queue_full', `the server is busy (work queue full); retry in ${retryAfterS} s`, { 'retry-after': String(retryAfterS) });
  }
}

/** Abort reasons (AbortController.abort(reason)). */
export class TimeoutAbort extends Error {
  constructor(readonly ms: number) {
    super(`request timed out after ${ms} ms`);
    this.name = 'TimeoutAbort';
  }
}
export class ClientGone extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGone';
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

const FACE_STATUS: Record<string, number> = {
  image_decode: 422,
  image_too_large: 413,
  image_too_small: 422,
  no_face: 422,
  face_index: 400,
};

/** Fastify / plugin error codes → our codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_REQ_FILE_TOO_LARGE: 'body_too_large',
  FST_PARTS_LIMIT: 'body_too_large',
  FST_FILES_LIMIT: 'body_too_large',
  FST_FIELDS_LIMIT: 'body_too_large',
  FST_PROTO_VIOLATION: 'invalid_request',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_INVALID_JSON_FIELD_ERROR: 'invalid_request',
};

/** Strip absolute paths from messages (never leak the server's file layout). */
function clean(msg: string): string {
  return msg.replace(/(^|[\s"'(=])(?:\/[\w.@+-]+){2,}/g, '$1<path>').slice(0, 1000);
}

/**
 * Map any error to a status + body. `internal` is true only for genuine server faults (5xx that
 * are not timeouts/overload): those are logged with their stack.
 */
export function mapError(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string>; internal: boolean } {
  const e = err as Error & { statusCode?: number; code?: string; validation?: unknown };
  const out = (status: number, code: string, message: string, headers: Record<string, string> = {}, internal = false) => ({
    status,
    body: { error: { code, message: clean(message) } },
    headers,
    internal,
  });
  if (e instanceof HttpError) return out(e.statusCode, e.code, e.message, e.headers);
  if (e instanceof FaceInputError) return out(FACE_STATUS[e.code] ?? 422, e.code, e.message);
  if (e instanceof BundleError) {
    const code = /not interchangeable|was made by/.test(e.message) ? 'embedder_mismatch' : 'bad_embedding';
    return out(400, code, e.message);
  }
  if (e instanceof TimeoutAbort) return out(504, 'timeout', e.message);
  if (e instanceof ClientGone) return out(499, 'client_gone', e.message);
  if (e && typeof e === 'object' && e.validation) return out(400, 'invalid_request', e.message);
  const sc = e?.statusCode;
  if (typeof sc === 'number' && sc >= 400 && sc < 500) {
    const code = (e.code && FASTIFY_CODES[e.code]) ?? (sc === 413 ? 'body_too_large' : sc === 415 ? 'unsupported_media_type' : 'bad_request');
    // @fastify/multipart answers 406 for "not multipart"; 415 is the right status for a wrong media type
    return out(sc === 406 ? 415 : sc, code, e.message || 'bad request');
  }
  if (e instanceof RangeError) return out(400, 'invalid_parameter', e.message);
  if (e && /unknown attribute/.test(String(e.message))) return out(400, 'unknown_attribute', e.message);
  if (e && /^(Unexpected end of form|Malformed part header|Multipart: Boundary not found|Unexpected end of multipart data)/.test(String(e.message))) {
    return out(400, 'bad_multipart', e.message);
  }
  return out(500, 'internal', 'internal server error', {}, true);
}
