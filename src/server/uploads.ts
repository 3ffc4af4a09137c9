// Reading uploads: multipart forms (files kept in memory only, never written to disk) and a
// cheap header check of each image (format, pixel count) before any work is queued.
import sharp from 'sharp';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

export interface UploadLimits {
  /** Bytes per uploaded image. */
  fileBytes: number;
  /** Image files per request. */
  files: number;
  /** Decoded pixels per image (decompression bombs). */
  pixels: number;
}

export interface UploadedFile {
  field: string;
  data: Buffer;
  mimetype: string;
}

export interface MultipartForm {
  files: UploadedFile[];
  fields: Record<string, string>;
}

const IMAGE_TYPES = /^(image\/(jpeg|jpg|pjpeg|png|webp|gif|avif|heif|heic|tiff|bmp)|application\/octet-stream)$/i;

export async function readMultipart(req: FastifyRequest, limits: UploadLimits, fileFields: readonly string[]): Promise<MultipartForm> {
  const files: UploadedFile[] = [];
  const fields: Record<string, string> = {};
  try {
    const parts = req.parts({
      limits: { fieldNameSize: 100, fieldSize: 64 * 1024, fields: 32, fileSize: limits.fileBytes, files: limits.files, headerPairs: 64, parts: 48 },
    });
    for await (const part of parts) {
      if (part.type === 'file') {
        if (!fileFields.includes(part.fieldname)) {
          throw new HttpError(400, 'unknown_field', `unexpected file field "${part.fieldname.slice(0, 100)}" (expected ${fileFields.join(' or ')})`);
        }
        const mimetype = part.mimetype || 'application/octet-stream';
        if (!IMAGE_TYPES.test(mimetype)) {
          throw new HttpError(415, 'unsupported_media_type', `file part "${part.fieldname}" has type ${mimetype.slice(0, 100)}; send a JPEG, PNG or WebP image`);
        }
        const data = await part.toBuffer();
        if (data.length === 0) throw new HttpError(422, 'image_decode', `file part "${part.fieldname}" is empty`);
        files.push({ field: part.fieldname, data, mimetype });
      } else {
        if (part.valueTruncated || part.fieldnameTruncated) throw new HttpError(413, 'body_too_large', `form field "${part.fieldname.slice(0, 100)}" is too long`);
        if (Object.prototype.hasOwnProperty.call(fields, part.fieldname)) throw new HttpError(400, 'invalid_request', `form field "${part.fieldname.slice(0, 100)}" given twice`);
        if (part.fieldname === '__proto__' || part.fieldname === 'constructor' || part.fieldname === 'prototype') {
          throw new HttpError(400, 'invalid_request', `invalid form field name "${part.fieldname}"`);
        }
        fields[part.fieldname] = typeof part.value === 'string' ? part.value : String(part.value);
      }
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    const e = err as Error & { statusCode?: number; code?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      if (e.statusCode === 413) throw new HttpError(413, 'body_too_large', e.message);
      if (e.statusCode === 406) throw new HttpError(415, 'unsupported_media_type', e.message);
      throw new HttpError(e.statusCode, e.code === 'FST_PROTO_VIOLATION' ? 'invalid_request' : 'bad_multipart', e.message);
    }
    // busboy: truncated / malformed bodies
    throw new HttpError(400, 'bad_multipart', `malformed multipart body: ${e.message ?? String(err)}`.slice(0, 300));
  }
  return { files, fields };
}

const NUMERIC = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

/** Multipart text fields → typed values (numbers from decimal strings, attributes from JSON); the schema validates the result. */
export function coerceFields(fields: Record<string, string>, numeric: ReadonlySet<string>, json: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (numeric.has(k)) out[k] = NUMERIC.test(v) ? Number(v) : v;
    else if (json.has(k)) {
      try {
        out[k] = JSON.parse(v);
      } catch {
        throw new HttpError(400, 'invalid_json', `form field "${k}" must be JSON`);
      }
    } else out[k] = v;
  }
  return out;
}

/** Header-only check (no full decode): a known image format, and not a decompression bomb. */
export async function checkImage(data: Buffer, name: string, maxPixels: number): Promise<{ width: number; height: number; format: string }> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(data, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new HttpError(422, 'image_decode', `${name}: cannot read image (${(err as Error).message.slice(0, 200)})`);
  }
  if (!meta.width || !meta.height || !meta.format) throw new HttpError(422, 'image_decode', `${name}: cannot read image (no dimensions)`);
  const pages = meta.pages && meta.pages > 1 ? meta.pages : 1;
  const pixels = meta.width * meta.height * pages;
  if (pixels > maxPixels) {
    throw new HttpError(413, 'image_too_large', `${name}: image has ${pixels} pixels (${meta.width}x${meta.height}${pages > 1 ? `x${pages} pages` : ''}), over the limit of ${maxPixels}`);
  }
  return { width: meta.width, height: meta.height, format: meta.format };
}
