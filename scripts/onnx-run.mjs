// Runs one ONNX graph with onnxruntime-node on feeds given as JSON on stdin and prints the first
// output as JSON: the trainer's export uses it for torch-vs-ONNX parity when Python has no
// onnxruntime (Debian ships none). stdin: { model, feeds: { name: { dtype, dims, data } } }.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const req = JSON.parse(readFileSync(0, 'utf8'));
const feeds = {};
for (const [name, f] of Object.entries(req.feeds)) {
  const data = f.dtype === 'int64' ? BigInt64Array.from(f.data.map((x) => BigInt(x))) : Float32Array.from(f.data);
  feeds[name] = new ort.Tensor(f.dtype, data, f.dims);
}
const session = await ort.InferenceSession.create(req.model, { intraOpNumThreads: 1 });
const out = await session.run(feeds);
const first = out[session.outputNames[0]];
process.stdout.write(JSON.stringify({ dims: first.dims, data: Array.from(first.data, Number) }));
