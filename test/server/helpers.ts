// Shared fixtures of the server tests: images (a face, two faces, no face, corrupt, a PNG bomb),
// a hand-built multipart encoder (so tests can also truncate and break it), one shared analyzer.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { FaceAnalyzer } from '../../src/face/analyzer.js';

export const TINY_BUNDLE = fileURLToPath(new URL('../fixtures/tiny-bundle', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DATA_DIR = fileURLToPath(new URL('../../../shared/data/celeba-subset/images/', import.meta.url));
export const FACE_A = `${DATA_DIR}000002.jpg`;
export const FACE_B = `${DATA_DIR}000058.jpg`;
export const HAVE_DATA = existsSync(FACE_A) && existsSync(FACE_B);

let analyzer: Promise<FaceAnalyzer> | undefined;
export function sharedAnalyzer(): Promise<FaceAnalyzer> {
  analyzer ??= FaceAnalyzer.create();
  return analyzer;
}

export function facePhoto(which: 'a' | 'b' = 'a'): Buffer {
  return readFileSync(which === 'a' ? FACE_A : FACE_B);
}

/** Two different people side by side (the larger one on the right). */
export async function twoFaces(): Promise<Buffer> {
  const big = await sharp(facePhoto('b')).resize(267, 327).toBuffer();
  return sharp({ create: { width: 178 + 267 + 20, height: 327, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .composite([
      { input: facePhoto('a'), left: 0, top: 50 },
      { input: big, left: 198, top: 0 },
    ])
    .jpeg()
    .toBuffer();
}

/** A smooth gradient with no face in it. */
export async function noFace(): Promise<Buffer> {
  const w = 160, h = 160;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([x, y, (x + y) & 255], (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A tiny PNG whose header claims width × height pixels (a decompression bomb as far as any decoder can tell). */
export function pngBomb(width = 30_000, height = 30_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface Part {
  name: string;
  value: string | Buffer;
  filename?: string;
  type?: string;
}

export const BOUNDARY = '----face0testboundary7MA4YWxkTrZu0gW';

export function multipart(parts: Part[], boundary = BOUNDARY): { body: Buffer; headers: Record<string, string> } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(head + '\r\n'), Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

export function imagePart(data: Buffer, name = 'face', type = 'image/jpeg'): Part {
  return { name, value: data, filename: 'photo.jpg', type };
}
