// face-api's browser build on TensorFlow.js (wasm backend, as in Node, so embeddings agree), with
// its weights fetched through the FileFetcher (they count in the loading bar).
import * as faceapiModule from '@vladmandic/face-api/dist/face-api.esm-nobundle.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { FaceApi } from '../face/face-api-types.js';
import type { FileFetcher } from './fetch-files.js';

/** The nets face analysis uses (src/face/backend.ts loads the same in Node). */
const NETS: Record<string, string> = {
  tinyFaceDetector: 'tiny_face_detector_model',
  ssdMobilenetv1: 'ssd_mobilenetv1_model',
  faceLandmark68Net: 'face_landmark_68_model',
  faceRecognitionNet: 'face_recognition_model',
};

interface WeightsGroup { paths: string[]; weights: unknown[] }
interface BrowserFaceApi extends FaceApi {
  tf: FaceApi['tf'] & { io: { decodeWeights(data: ArrayBuffer, specs: unknown[]): Record<string, unknown> } };
  nets: Record<string, FaceApi['nets'][string] & { loadFromWeightMap(map: Record<string, unknown>): void }>;
}

/** face-api with the wasm backend ready and its nets loaded; `weightsUrl` and `tfjsWasmUrl` are folders of the site. */
export async function loadBrowserFaceApi(weightsUrl: string, tfjsWasmUrl: string, files: FileFetcher): Promise<FaceApi> {
  const api = faceapiModule as unknown as BrowserFaceApi;
  setWasmPaths(new URL(tfjsWasmUrl, location.href).href);
  if (!(await api.tf.setBackend('wasm'))) throw new Error('face-api: could not start the TensorFlow.js wasm backend');
  await api.tf.ready();
  await Promise.all(
    Object.entries(NETS).map(async ([net, file]) => {
      const base = new URL(weightsUrl, location.href);
      const manifestUrl = new URL(`${file}-weights_manifest.json`, base).href;
      const text = await files.text(manifestUrl);
      if (text === undefined) throw new Error(`face-api weights missing: ${manifestUrl}`);
      const groups = JSON.parse(text) as WeightsGroup[];
      const parts: Uint8Array[] = [];
      for (const g of groups) {
        for (const p of g.paths) {
          const b = await files.bytes(new URL(p, base).href);
          if (!b) throw new Error(`face-api weights missing: ${p}`);
          parts.push(b);
        }
      }
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) {
        all.set(p, off);
        off += p.length;
      }
      api.nets[net].loadFromWeightMap(api.tf.io.decodeWeights(all.buffer, groups.flatMap((g) => g.weights)));
    }),
  );
  return api;
}
