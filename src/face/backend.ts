// Loads @vladmandic/face-api on TensorFlow.js with the wasm backend, once per thread.
// The package's `main` needs tfjs-node (not installable offline), so its node-wasm build is
// loaded by file path; only the few calls we use are typed here.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export type { FaceApi, RawDetection, Tensor3D } from './face-api-types.js';
import type { FaceApi } from './face-api-types.js';

export const FACE_API_PACKAGE = '@vladmandic/face-api';

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

export function faceApiVersion(): string {
  return (require(`${FACE_API_PACKAGE}/package.json`) as { version: string }).version;
}

let loading: Promise<FaceApi> | undefined;

/** The face-api module with wasm backend ready and all models we use loaded (cached per thread). */
export function loadFaceApi(): Promise<FaceApi> {
  loading ??= (async () => {
    // Emscripten's glue adds process-wide uncaughtException/unhandledRejection handlers that rethrow
    // and print its whole minified source; we remove whatever it added so errors stay readable.
    const before = { ex: process.listeners('uncaughtException'), rej: process.listeners('unhandledRejection') };
    const faceapi = require(join(packageDir(FACE_API_PACKAGE), 'dist', 'face-api.node-wasm.js')) as FaceApi;
    faceapi.tf.setWasmPaths(join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist') + '/');
    if (!(await faceapi.tf.setBackend('wasm'))) throw new Error('face-api: could not start the TensorFlow.js wasm backend');
    await faceapi.tf.ready();
    for (const l of process.listeners('uncaughtException')) if (!before.ex.includes(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.rej.includes(l)) process.removeListener('unhandledRejection', l);
    const modelDir = join(packageDir(FACE_API_PACKAGE), 'model');
    for (const net of ['tinyFaceDetector', 'ssdMobilenetv1', 'faceLandmark68Net', 'faceRecognitionNet']) {
      await faceapi.nets[net].loadFromDisk(modelDir);
    }
    return faceapi;
  })();
  return loading;
}
