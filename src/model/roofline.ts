// Matrix-multiply roofline measured in-process: a one-node ONNX graph (MatMul, float32, N×N by
// N×N) is encoded here by hand (protobuf wire format, ONNX ir_version 8, opset 17) and run on
// onnxruntime-node with the same thread settings as the generation sessions. Its GFLOP/s
// (2·N³ per run, median of several runs after a warm-up) is what the CPU's GEMM path reaches —
// the ceiling the UNet's achieved GFLOP/s is compared against.
import * as ort from 'onnxruntime-node';

// --- minimal protobuf writer -------------------------------------------------------------------
function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const fInt = (field: number, v: number) => [...key(field, 0), ...varint(v)];
const fBytes = (field: number, bytes: number[]) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const fStr = (field: number, s: string) => fBytes(field, Array.from(Buffer.from(s, 'utf8')));

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => fBytes(1, fInt(1, d))); // TensorShapeProto.dim { dim_value }
  const tensorType = [...fInt(1, 1 /* FLOAT */), ...fBytes(2, shape)];
  return [...fStr(1, name), ...fBytes(2, fBytes(1, tensorType))];
}

/** ONNX bytes of Y = MatMul(A, B) with A [m,k], B [k,n]. */
export function matmulModel(m: number, k: number, n: number): Uint8Array {
  const node = [...fStr(1, 'A'), ...fStr(1, 'B'), ...fStr(2, 'Y'), ...fStr(3, 'mm'), ...fStr(4, 'MatMul')];
  const graph = [
    ...fBytes(1, node),
    ...fStr(2, 'roofline'),
    ...fBytes(11, valueInfo('A', [m, k])),
    ...fBytes(11, valueInfo('B', [k, n])),
    ...fBytes(12, valueInfo('Y', [m, n])),
  ];
  const model = [...fInt(1, 8), ...fStr(2, 'face0-roofline'), ...fBytes(7, graph), ...fBytes(8, [...fStr(1, ''), ...fInt(2, 17)])];
  return Uint8Array.from(model);
}

export interface RooflineResult {
  n: number;
  threads: number;
  gflopsPerRun: number;
  medianMs: number;
  gflops: number;
}

export async function measureMatmulRoofline(opts: { n?: number; threads: number; runs?: number }): Promise<RooflineResult> {
  const n = opts.n ?? 1024;
  const runs = opts.runs ?? 7;
  const session = await ort.InferenceSession.create(matmulModel(n, n, n), {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const feeds = { A: new ort.Tensor('float32', a, [n, n]), B: new ort.Tensor('float32', b, [n, n]) };
  await session.run(feeds);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  await session.release();
  const medianMs = median(times);
  const gflopsPerRun = (2 * n * n * n) / 1e9;
  return { n, threads: opts.threads, gflopsPerRun, medianMs, gflops: gflopsPerRun / (medianMs / 1000) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
