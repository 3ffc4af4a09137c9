// NumPy .npy v1.0 for float32 vectors (the shard contract's `KEY.npy`). Hand-written because the
// format is ~20 lines and no registry package covers write+read without pulling in numpy-like stacks.
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export function encodeNpyFloat32(values: Float32Array, shape: number[] = [values.length]): Buffer {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // magic(6) + version(2) + header length(2) + header, padded with spaces and '\n' to a multiple of 64
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) data.writeFloatLE(values[i], i * 4);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

export function decodeNpyFloat32(buf: Buffer): { values: Float32Array; shape: number[] } {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error('not a .npy file');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`.npy: expected little-endian float32, header ${header.trim()}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('.npy: fortran order not supported');
  const shapeMatch = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!shapeMatch) throw new Error('.npy: no shape');
  const shape = shapeMatch[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  if (buf.length - dataStart !== n * 4) throw new Error(`.npy: ${buf.length - dataStart} data bytes for shape (${shape})`);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = buf.readFloatLE(dataStart + i * 4);
  return { values, shape };
}
