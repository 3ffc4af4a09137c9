// Real-world photo inputs (src/face/image.ts) and face analysis (src/face/analyzer.ts) on a few
// real images from ../shared/data: every image variant is built in memory with sharp (nothing is
// copied into the repository).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, type RgbImage } from '../../src/face/image.js';
import { FaceAnalyzer, embedderId, type FaceAnalysis } from '../../src/face/analyzer.js';
import { loadFaceApi } from '../../src/face/backend.js';
import { FaceIndexError, FaceInputError, ImageDecodeError, ImageTooLargeError, ImageTooSmallError, NoFaceError } from '../../src/face/errors.js';
import { cosine } from '../../src/eval/verification.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const CELEBA = join(DATA, 'celeba-subset');
const UTK = join(DATA, 'utkface', 'images');
const haveData = existsSync(join(CELEBA, 'identity.txt')) && existsSync(UTK);
const skip = haveData ? false : `face data not found at ${DATA}`;

/** Two photos of one CelebA identity and one of another, from identity.txt. */
function pickIdentities(): { same: [string, string]; other: string } {
  const byId = new Map<string, string[]>();
  for (const line of readFileSync(join(CELEBA, 'identity.txt'), 'utf8').trim().split('\n')) {
    const [file, id] = line.trim().split(/\s+/);
    (byId.get(id) ?? byId.set(id, []).get(id)!).push(file);
  }
  const ids = [...byId.keys()].sort();
  const a = byId.get(ids[0])!.sort(), b = byId.get(ids[1])!.sort();
  return { same: [join(CELEBA, 'images', a[0]), join(CELEBA, 'images', a[1])], other: join(CELEBA, 'images', b[0]) };
}

async function rawRgb(input: string | Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const meanAbsDiff = (a: Uint8Array, b: Uint8Array) => {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

async function expectInputError<E extends FaceInputError>(p: Promise<unknown>, cls: new (...args: never[]) => E, name: string, code: string): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`);
    assert.ok(err instanceof FaceInputError);
    assert.equal(err.input, name);
    assert.equal(err.code, code);
    assert.ok(err.message.includes(name), `message names the input: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${cls.name}`);
}

describe('decodeImage', { skip }, () => {
  let photo = '';
  let ref: { data: Buffer; width: number; height: number };
  before(async () => {
    photo = pickIdentities().same[0];
    ref = await rawRgb(photo); // 178x218 RGB
  });

  test('plain JPEG: RGB bytes of the right size', async () => {
    const img = await decodeImage(photo);
    assert.equal(img.width, 178); assert.equal(img.height, 218);
    assert.ok(img.data instanceof Uint8Array);
    assert.equal(img.data.length, 178 * 218 * 3);
    assert.equal(meanAbsDiff(img.data, ref.data), 0);
  });

  test('grayscale JPEG → three equal channels', async () => {
    const buf = await sharp(photo).toColourspace('b-w').jpeg().toBuffer();
    assert.equal((await sharp(buf).metadata()).channels, 1, 'the input really is single-channel');
    const img = await decodeImage(buf);
    assert.equal(img.data.length, img.width * img.height * 3);
    let diff = 0;
    for (let i = 0; i < img.data.length; i += 3) diff += Math.abs(img.data[i] - img.data[i + 1]) + Math.abs(img.data[i] - img.data[i + 2]);
    assert.equal(diff, 0);
    // brightness is preserved (not, e.g., a black image)
    const lum = Array.from(ref.data).reduce((s, v) => s + v, 0) / ref.data.length;
    const got = Array.from(img.data).reduce((s, v) => s + v, 0) / img.data.length;
    assert.ok(Math.abs(got - lum) < 12, `mean ${got} vs ${lum}`);
  });

  test('CMYK JPEG → sRGB close to the original', async () => {
    const buf = await sharp(photo).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    assert.equal((await sharp(buf).metadata()).space, 'cmyk', 'the input really is CMYK');
    const img = await decodeImage(buf);
    assert.equal(img.width, 178); assert.equal(img.height, 218);
    const d = meanAbsDiff(img.data, ref.data);
    assert.ok(d < 12, `mean abs difference ${d}`);
  });

  test('PNG with alpha is composited over white', async () => {
    const rgba = Buffer.alloc(ref.width * ref.height * 4);
    for (let i = 0; i < ref.width * ref.height; i++) {
      const x = i % ref.width;
      ref.data.copy(rgba, i * 4, i * 3, i * 3 + 3);
      rgba[i * 4 + 3] = x < ref.width / 2 ? 0 : 255; // left half transparent
    }
    const buf = await sharp(rgba, { raw: { width: ref.width, height: ref.height, channels: 4 } }).png().toBuffer();
    assert.equal((await sharp(buf).metadata()).hasAlpha, true);
    const img = await decodeImage(buf);
    for (let i = 0; i < ref.width * ref.height; i++) {
      const x = i % ref.width;
      for (let c = 0; c < 3; c++) {
        const want = x < ref.width / 2 ? 255 : ref.data[i * 3 + c];
        if (img.data[i * 3 + c] !== want) assert.fail(`pixel ${i} channel ${c}: ${img.data[i * 3 + c]} vs ${want}`);
      }
    }
  });

  test('16-bit PNG → 8-bit RGB', async () => {
    const buf = await sharp(photo).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(buf).metadata()).depth, 'ushort', 'the input really is 16-bit');
    const img = await decodeImage(buf);
    assert.equal(img.data.length, 178 * 218 * 3);
    const d = meanAbsDiff(img.data, ref.data);
    assert.ok(d < 1.5, `mean abs difference ${d}`);
  });

  test('WebP (lossless) decodes to the same pixels', async () => {
    const buf = await sharp(ref.data, { raw: { width: ref.width, height: ref.height, channels: 3 } }).webp({ lossless: true }).toBuffer();
    assert.equal((await sharp(buf).metadata()).format, 'webp');
    const img = await decodeImage(buf);
    assert.equal(meanAbsDiff(img.data, ref.data), 0);
  });

  test('EXIF orientation 6 is applied: width and height swap, content turned 90° clockwise', async () => {
    const buf = await sharp(photo).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const meta = await sharp(buf).metadata();
    assert.equal(meta.orientation, 6);
    assert.equal(meta.width, 178, 'stored unrotated');
    const img = await decodeImage(buf);
    assert.equal(img.width, 218); assert.equal(img.height, 178);
    // 90° clockwise: new (x', y') = old (y', H − 1 − x'); counter-clockwise would be old (W − 1 − y', x')
    const W = ref.width, H = ref.height;
    let cw = 0, ccw = 0;
    for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) for (let c = 0; c < 3; c++) {
      const v = img.data[(y * img.width + x) * 3 + c];
      cw += Math.abs(v - ref.data[((H - 1 - x) * W + y) * 3 + c]);
      ccw += Math.abs(v - ref.data[(x * W + (W - 1 - y)) * 3 + c]);
    }
    const n = img.data.length;
    assert.ok(cw / n < 4, `clockwise mapping differs by ${cw / n}`);
    assert.ok(ccw / n > 4 * (cw / n), 'and the counter-clockwise mapping does not fit');
  });

  test('non-image bytes → ImageDecodeError naming the input', async () => {
    await expectInputError(decodeImage(Buffer.from('this is not an image, just some text'), { name: 'upload.bin' }), ImageDecodeError, 'upload.bin', 'image_decode');
    await expectInputError(decodeImage(Buffer.alloc(0), { name: 'empty.jpg' }), ImageDecodeError, 'empty.jpg', 'image_decode');
    const missing = join(DATA, 'no-such-file.jpg');
    await expectInputError(decodeImage(missing), ImageDecodeError, missing, 'image_decode');
    const jpeg = readFileSync(photo);
    await expectInputError(decodeImage(jpeg.subarray(0, jpeg.length / 2), { name: 'truncated.jpg' }), ImageDecodeError, 'truncated.jpg', 'image_decode');
  });

  test('too small → ImageTooSmallError; too many pixels → ImageTooLargeError', async () => {
    const tiny = await sharp(photo).resize(20, 20).png().toBuffer();
    const e = await expectInputError(decodeImage(tiny, { name: 'tiny.png' }), ImageTooSmallError, 'tiny.png', 'image_too_small');
    assert.match(e.message, /20x20/);
    const narrow = await sharp(photo).resize(31, 200, { fit: 'fill' }).png().toBuffer();
    await expectInputError(decodeImage(narrow, { name: 'narrow.png' }), ImageTooSmallError, 'narrow.png', 'image_too_small');
    const ok = await decodeImage(await sharp(photo).resize(32, 32).png().toBuffer());
    assert.equal(ok.width, 32);
    // 178x218 = 38804 pixels
    const big = await expectInputError(decodeImage(photo, { maxPixels: 30_000 }), ImageTooLargeError, photo, 'image_too_large');
    assert.match(big.message, /38804/);
    assert.equal((await decodeImage(photo, { maxPixels: 38_804 })).width, 178, 'exactly at the limit is fine');
  });
});

describe('FaceAnalyzer', { skip }, () => {
  let analyzer: FaceAnalyzer;
  let ids: ReturnType<typeof pickIdentities>;
  let first: FaceAnalysis;

  before(async () => {
    analyzer = await FaceAnalyzer.create();
    ids = pickIdentities();
    first = await analyzer.analyze(ids.same[0]);
  });
  after(() => analyzer?.close());

  test('a CelebA photo: one face, 68 + 5 landmarks inside the box, unit 128-D embedding', () => {
    const a = first;
    assert.equal(a.faces.length, 1);
    assert.equal(a.faceIndex, 0);
    assert.deepEqual(a.warnings, []);
    const [x, y, w, h] = a.face.box;
    assert.ok(w > 60 && h > 60 && w < 178 && h < 218, `box ${a.face.box}`);
    assert.ok(a.face.score >= 0.5 && a.face.score <= 1);
    assert.equal(a.face.landmarks68.length, 68);
    assert.equal(a.face.landmarks5.length, 5);
    const mx = 0.1 * w, my = 0.1 * h;
    for (const [px, py] of [...a.face.landmarks68, ...a.face.landmarks5]) {
      assert.ok(px >= x - mx && px <= x + w + mx && py >= y - my && py <= y + h + my, `landmark (${px}, ${py}) outside box ${a.face.box}`);
    }
    // img_align_celeba puts the eyes near (69, 111) and (108, 111), the mouth corners near y = 152
    const [le, re, nose, lm, rm] = a.face.landmarks5;
    const near = (p: number[], q: number[], tol: number, what: string) => assert.ok(Math.hypot(p[0] - q[0], p[1] - q[1]) < tol, `${what} at ${p.map(Math.round)}, expected near ${q}`);
    near(le, [69, 111], 20, 'left eye');
    near(re, [108, 111], 20, 'right eye');
    near(lm, [72, 152], 22, 'left mouth corner');
    near(rm, [106, 152], 22, 'right mouth corner');
    assert.ok(nose[1] > le[1] && nose[1] < lm[1], 'nose between eyes and mouth');
    assert.equal(a.embedding.length, 128);
    assert.ok(a.embedding instanceof Float32Array);
    const n = Math.hypot(...a.embedding);
    assert.ok(Math.abs(n - 1) < 1e-5, `norm ${n}`);
    assert.equal(a.image.width, 178);
  });

  test('embedder id matches the contract and the installed face-api version', () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../node_modules/@vladmandic/face-api/package.json', import.meta.url)), 'utf8')) as { version: string };
    assert.equal(analyzer.embedderId, `face-api@${pkg.version}/faceRecognitionNet/align5-z1-y-0.15`);
    assert.match(analyzer.embedderId, /^face-api@\d+\.\d+\.\d+\/faceRecognitionNet\/align5-z1-y-0\.15$/);
    assert.equal(first.embedder, analyzer.embedderId);
    assert.equal(embedderId(), analyzer.embedderId);
    assert.notEqual(embedderId({ zoom: 1.2, shiftY: -0.15 }), analyzer.embedderId, 'the framing is part of the id');
  });

  test('same person is closer than a different person', async () => {
    const b = await analyzer.analyze(ids.same[1]);
    const c = await analyzer.analyze(ids.other);
    const same = cosine(first.embedding, b.embedding);
    const diff1 = cosine(first.embedding, c.embedding), diff2 = cosine(b.embedding, c.embedding);
    assert.ok(same > diff1 && same > diff2, `same ${same.toFixed(3)}, different ${diff1.toFixed(3)} / ${diff2.toFixed(3)}`);
    // the same photo gives the same embedding
    const again = await analyzer.analyze(readFileSync(ids.same[0]));
    assert.ok(cosine(first.embedding, again.embedding) > 0.9999);
  });

  test('a blank grey image → NoFaceError naming the input', async () => {
    const grey = await sharp({ create: { width: 240, height: 240, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
    await expectInputError(analyzer.analyze(grey, { name: 'grey.png' }), NoFaceError, 'grey.png', 'no_face');
  });

  test('two faces side by side: largest first, faceIndex picks the other, with a warning', async () => {
    const big = await sharp(ids.same[0]).resize(267, 327).toBuffer(); // 1.5x
    const small = readFileSync(ids.other);
    const pair = await sharp({ create: { width: 500, height: 330, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .composite([{ input: small, left: 10, top: 102 }, { input: big, left: 223, top: 0 }])
      .jpeg({ quality: 92 }).toBuffer();
    const a = await analyzer.analyze(pair, { name: 'pair.jpg' });
    assert.equal(a.faces.length, 2, `faces: ${JSON.stringify(a.faces.map((f) => f.box.map(Math.round)))}`);
    const area = (f: { box: number[] }) => f.box[2] * f.box[3];
    assert.ok(area(a.faces[0]) > area(a.faces[1]), 'largest first');
    assert.ok(a.faces[0].box[0] + a.faces[0].box[2] / 2 > 223, 'the larger face is the enlarged photo on the right');
    assert.ok(a.faces[1].box[0] + a.faces[1].box[2] / 2 < 188, 'the smaller face is on the left');
    assert.equal(a.faceIndex, 0);
    assert.ok(a.warnings.some((w) => w.includes('2 faces') && w.includes('pair.jpg')), `warnings: ${a.warnings}`);
    const b = await analyzer.analyze(pair, { name: 'pair.jpg', faceIndex: 1 });
    assert.equal(b.faceIndex, 1);
    assert.deepEqual(b.face.box, a.faces[1].box);
    assert.ok(b.warnings.some((w) => w.includes('2 faces')), `warnings: ${b.warnings}`);
    // each embedding is of the right person
    const other = await analyzer.analyze(ids.other);
    assert.ok(cosine(b.embedding, other.embedding) > cosine(b.embedding, first.embedding), 'faceIndex 1 embeds the smaller (other) person');
    assert.ok(cosine(a.embedding, first.embedding) > cosine(a.embedding, other.embedding), 'faceIndex 0 embeds the larger person');
  });

  test('faceIndex out of range → FaceIndexError', async () => {
    for (const faceIndex of [1, 5, -1, 0.5]) {
      const e = await expectInputError(analyzer.analyze(ids.same[0], { faceIndex, name: 'one.jpg' }), FaceIndexError, 'one.jpg', 'face_index');
      assert.match(e.message, /1 face/);
    }
  });

  test('a large photo is detected (downscaled) with coordinates in the original pixels', async () => {
    const W = 3000, H = 3600;
    const large = await sharp(ids.same[0]).resize(W, H, { fit: 'fill' }).jpeg({ quality: 85 }).toBuffer();
    const a = await analyzer.analyze(large, { name: 'large.jpg' });
    assert.equal(a.image.width, W); assert.equal(a.image.height, H);
    assert.equal(a.faces.length, 1);
    const sx = W / 178, sy = H / 218;
    const [x, y, w, h] = a.face.box, [x0, y0, w0, h0] = first.face.box;
    const tol = 0.12;
    assert.ok(Math.abs(w / (w0 * sx) - 1) < tol && Math.abs(h / (h0 * sy) - 1) < tol, `box ${a.face.box.map(Math.round)} vs scaled ${[x0 * sx, y0 * sy, w0 * sx, h0 * sy].map(Math.round)}`);
    assert.ok(Math.abs(x + w / 2 - (x0 + w0 / 2) * sx) < tol * w && Math.abs(y + h / 2 - (y0 + h0 / 2) * sy) < tol * h, 'box centre scaled');
    const eyeDist = Math.hypot(a.face.landmarks5[1][0] - a.face.landmarks5[0][0], a.face.landmarks5[1][1] - a.face.landmarks5[0][1]);
    a.face.landmarks5.forEach(([px, py], i) => {
      const [qx, qy] = first.face.landmarks5[i];
      assert.ok(Math.hypot(px - qx * sx, py - qy * sy) < 0.15 * eyeDist, `landmark ${i}: (${Math.round(px)}, ${Math.round(py)}) vs scaled (${Math.round(qx * sx)}, ${Math.round(qy * sy)})`);
    });
    assert.ok(cosine(a.embedding, first.embedding) > 0.95, `same photo upscaled: cosine ${cosine(a.embedding, first.embedding)}`);
  });

  test('a tightly cropped UTKFace image is found (the mirrored-border pass of the cascade)', async () => {
    const file = join(UTK, '100_1_0_20170110183726390.jpg.chip.jpg');
    const img: RgbImage = await decodeImage(file);
    // precondition: a single tiny-detector pass on the photo as it is finds nothing
    const api = await loadFaceApi();
    const t = api.tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
    const plain = await api.detectAllFaces(t, new api.TinyFaceDetectorOptions({ inputSize: 224, scoreThreshold: 0.5 })).withFaceLandmarks();
    t.dispose();
    assert.equal(plain.length, 0, 'this image is expected to defeat the plain tiny pass');
    // without SSD, so the mirrored-border pass is what finds it
    const noSsd = await FaceAnalyzer.create({ fallbackToSsd: false });
    const a = await noSsd.analyze(file);
    assert.equal(a.faces.length, 1, 'the reflection in the mirrored border is not a second face');
    const [x, y, w, h] = a.face.box;
    assert.ok(w > 100 && h > 100, `box ${a.face.box.map(Math.round)}`);
    const cx = x + w / 2, cy = y + h / 2;
    assert.ok(cx > 50 && cx < 150 && cy > 50 && cy < 150, 'box centred in the 200x200 crop (unpadded coordinates)');
    for (const [px, py] of a.face.landmarks5) assert.ok(px > 0 && px < 200 && py > 0 && py < 200, `landmark (${px}, ${py}) in image coordinates`);
    assert.equal(Math.hypot(...a.embedding).toFixed(5), '1.00000');
    const viaDefault = await analyzer.analyze(file);
    assert.equal(viaDefault.faces.length, 1);
  });

  test('no tfjs tensor leak across repeated analyses (including failures)', async () => {
    const startCount = analyzer.tensorCount();
    const grey = await sharp({ create: { width: 100, height: 100, channels: 3, background: { r: 90, g: 90, b: 90 } } }).jpeg().toBuffer();
    for (let i = 0; i < 3; i++) {
      await analyzer.analyze(ids.same[i % 2]);
      await analyzer.embedImage(ids.other);
      await assert.rejects(analyzer.analyze(grey, { name: 'grey' }), NoFaceError);
      await assert.rejects(analyzer.analyze(ids.other, { faceIndex: 3 }), FaceIndexError);
    }
    assert.equal(analyzer.tensorCount(), startCount);
  });
});
