// Piscina worker: each thread owns one face analyzer (tfjs-wasm is single-threaded, so threads
// are how augment uses every core).
import sharp from 'sharp';
import { FaceAnalyzer } from '../../face/analyzer.js';
import { processImage, type ProcessOptions, type ProcessResult } from './process.js';

// One libvips thread per worker: the pool already has a thread per core, and libvips' own
// pool would oversubscribe them (measured: 18.7 → see bench augment).
sharp.concurrency(1);

let analyzer: Promise<FaceAnalyzer> | undefined;

export default async function run(task: { bytes: Uint8Array; name: string; opts: ProcessOptions }): Promise<ProcessResult> {
  analyzer ??= FaceAnalyzer.create();
  return processImage(await analyzer, Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength), task.name, task.opts);
}
