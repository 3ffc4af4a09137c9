// The few calls of @vladmandic/face-api (and its TensorFlow.js) we use, typed once for every build
// of it: Node's node-wasm build (backend.ts) and the browser's esm build (src/web/).

export interface Tensor3D { shape: number[]; dispose(): void }
interface Point { x: number; y: number }
interface Box { x: number; y: number; width: number; height: number }
export interface RawDetection {
  detection: { score: number; box: Box };
  landmarks: { positions: Point[] };
}
export interface FaceApi {
  tf: {
    setBackend(name: string): Promise<boolean>;
    ready(): Promise<void>;
    getBackend(): string;
    setWasmPaths(path: string): void;
    tensor3d(values: Uint8Array | Int32Array | Float32Array, shape: [number, number, number], dtype?: string): Tensor3D;
    engine(): { startScope(): void; endScope(): void };
    memory(): { numTensors: number; numBytes: number };
  };
  nets: Record<string, { loadFromDisk(dir: string): Promise<void>; loadFromUri(url: string): Promise<void>; isLoaded: boolean }>;
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults?: number }) => unknown;
  detectAllFaces(input: Tensor3D, options: unknown): { withFaceLandmarks(useTiny?: boolean): Promise<RawDetection[]> };
  computeFaceDescriptor(input: Tensor3D): Promise<Float32Array | Float32Array[]>;
  version: string;
}
