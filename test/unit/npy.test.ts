// NumPy .npy v1.0 float32 files (src/data/npy.ts), the `KEY.npy` member of the shard contract:
// byte-identical to NumPy's own np.save (a committed golden file written by real NumPy), and the
// reader accepts what NumPy writes and refuses what it cannot read.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { decodeNpyFloat32, encodeNpyFloat32 } from '../../src/data/npy.js';

// Written once by: /usr/bin/python3 -c "import numpy as np; np.save('test/fixtures/golden/emb128.npy', (np.arange(128, dtype=np.float32)/128 - 0.5))"
const GOLDEN = new URL('../fixtures/golden/emb128.npy', import.meta.url);
const goldenValues = () => Float32Array.from({ length: 128 }, (_, i) => i / 128 - 0.5); // exact in float32

const PY = '/usr/bin/python3';
const numpyAvailable = spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

/** Parses the preamble independently of the module under test. */
function preamble(buf: Buffer) {
  return {
    magic: buf.subarray(0, 6),
    major: buf[6],
    minor: buf[7],
    headerLen: buf.readUInt16LE(8),
  };
}

describe('npy', () => {
  test('roundtrip: values (incl. special floats) and shape', () => {
    const values = Float32Array.from([0, -0, 1.5, -2.25, 3.4028234663852886e38, 1e-45, Number.POSITIVE_INFINITY, Number.NaN, Math.PI]);
    const { values: back, shape } = decodeNpyFloat32(encodeNpyFloat32(values));
    assert.deepEqual(shape, [values.length]);
    assert.equal(back.length, values.length);
    for (let i = 0; i < values.length; i++) assert.ok(Object.is(back[i], values[i]), `index ${i}: ${back[i]} vs ${values[i]}`);

    const m = Float32Array.from({ length: 12 }, (_, i) => i * 0.1);
    const d = decodeNpyFloat32(encodeNpyFloat32(m, [3, 4]));
    assert.deepEqual(d.shape, [3, 4]);
    assert.deepEqual(Array.from(d.values), Array.from(m));

    const empty = decodeNpyFloat32(encodeNpyFloat32(new Float32Array(0)));
    assert.deepEqual(empty.shape, [0]);
    assert.equal(empty.values.length, 0);
  });

  test('header follows the NumPy v1.0 format', () => {
    for (const n of [1, 128, 100000]) {
      const buf = encodeNpyFloat32(new Float32Array(n).fill(0.25));
      const p = preamble(buf);
      assert.deepEqual([...p.magic], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59], 'magic \\x93NUMPY');
      assert.equal(p.major, 1); assert.equal(p.minor, 0);
      assert.equal((10 + p.headerLen) % 64, 0, 'preamble + header is a multiple of 64 bytes');
      const header = buf.subarray(10, 10 + p.headerLen).toString('latin1');
      assert.ok(header.endsWith('\n'), 'header ends with a newline');
      assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(\d+,\), \} *\n$/);
      assert.ok(header.includes(`'shape': (${n},)`));
      assert.equal(buf.length, 10 + p.headerLen + 4 * n, 'data follows the header directly');
      assert.equal(buf.readFloatLE(10 + p.headerLen), 0.25, 'little-endian float32 data');
    }
  });

  test('golden file written by NumPy: byte-identical encoding, and decodable', () => {
    const golden = readFileSync(GOLDEN);
    const values = goldenValues();
    assert.ok(encodeNpyFloat32(values).equals(golden), 'encodeNpyFloat32 differs from np.save');
    const d = decodeNpyFloat32(golden);
    assert.deepEqual(d.shape, [128]);
    assert.deepEqual(Array.from(d.values), Array.from(values));
    assert.equal(d.values[0], -0.5); assert.equal(d.values[127], 127 / 128 - 0.5);
  });

  test('byte-identical to np.save for other shapes', { skip: !numpyAvailable && `${PY} with numpy not available` }, () => {
    const cases: { shape: number[]; py: string }[] = [
      { shape: [3, 4], py: 'np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5' },
      { shape: [1], py: 'np.array([7.25], dtype=np.float32)' },
      { shape: [1000], py: 'np.linspace(-1, 1, 1000).astype(np.float32)' },
    ];
    for (const { shape, py } of cases) {
      const r = spawnSync(PY, ['-c', `import sys, io, numpy as np\nb = io.BytesIO(); np.save(b, ${py}); sys.stdout.buffer.write(b.getvalue())`], { maxBuffer: 1 << 24 });
      assert.equal(r.status, 0, r.stderr?.toString());
      const ref = r.stdout;
      const { values, shape: s } = decodeNpyFloat32(ref);
      assert.deepEqual(s, shape);
      assert.ok(encodeNpyFloat32(values, shape).equals(ref), `shape (${shape}) differs from np.save`);
    }
  });

  test('reads a version 2.0 file (4-byte header length)', () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".padEnd(64 - 12 - 1, ' ') + '\n';
    const head = Buffer.alloc(12);
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]).copy(head);
    head.writeUInt32LE(header.length, 8);
    const data = Buffer.alloc(8); data.writeFloatLE(1.5, 0); data.writeFloatLE(-3, 4);
    const d = decodeNpyFloat32(Buffer.concat([head, Buffer.from(header, 'latin1'), data]));
    assert.deepEqual(d.shape, [2]);
    assert.deepEqual(Array.from(d.values), [1.5, -3]);
  });

  test('errors: corrupt magic, wrong dtype, fortran order, truncated data', () => {
    const good = encodeNpyFloat32(goldenValues());
    const badMagic = Buffer.from(good); badMagic[1] = 0x4f;
    assert.throws(() => decodeNpyFloat32(badMagic), /not a \.npy/);
    assert.throws(() => decodeNpyFloat32(Buffer.from('hello')), /not a \.npy/);
    assert.throws(() => decodeNpyFloat32(Buffer.alloc(0)), /not a \.npy/);

    const retype = (from: string, to: string) => Buffer.from(good.toString('latin1').replace(from, to), 'latin1');
    assert.throws(() => decodeNpyFloat32(retype("'<f4'", "'<f8'")), /float32/);
    assert.throws(() => decodeNpyFloat32(retype("'<f4'", "'>f4'")), /float32/, 'big-endian refused');
    assert.throws(() => decodeNpyFloat32(retype("'<f4'", "'<i4'")), /float32/);
    assert.throws(() => decodeNpyFloat32(retype('False', 'True ')), /fortran/);
    assert.throws(() => decodeNpyFloat32(good.subarray(0, good.length - 4)), /data bytes/);
    assert.throws(() => decodeNpyFloat32(Buffer.concat([good, Buffer.alloc(4)])), /data bytes/);
    // shape that does not match the data
    assert.throws(() => decodeNpyFloat32(retype('(128,)', '(127,)')), /data bytes/);
  });
});
