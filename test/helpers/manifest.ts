// A small valid manifest (format_version 1) for schema tests.
export function validManifest(): Record<string, any> {
  const d = 4;
  const T = 10;
  const hex = 'ab'.repeat(32);
  return {
    format_version: 1,
    name: 'face0-test',
    created: '2026-11-27T19:00:00Z',
    license: 'test only',
    files: {
      text_encoder: { path: 'text_encoder.onnx', sha256: hex },
      face_projector: { path: 'face_projector.onnx', sha256: hex },
      unet: { path: 'unet.onnx', sha256: hex },
      tokenizer: { path: 'tokenizer.json', sha256: hex },
    },
    image: { resolution: 8, channels: 3, pixel_range: [-1, 1], layout: 'NCHW RGB' },
    text: { context_length: 8, width: 16, face_tokens: 2 },
    face: { embedding_dim: d, embedder: 'test-embedder' },
    schedule: { type: 'linear', num_train_timesteps: T, betas: Array.from({ length: T }, (_, i) => 0.01 + 0.02 * i) },
    prediction_type: 'v',
    unet_info: { params: 100, gflops_per_eval: 0.01 },
    identity: {
      count: 3,
      mean: [0.5, 0, 0, 0],
      cholesky: Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 0.1 : 0))),
      directions: { Young: { vector: [0, 1, 0, 0], positives: 2, negatives: 1 } },
    },
    training: { stages: [{ stage: 'base', steps: 1 }], data: 'none', config: {} },
    defaults: { steps: 4, sampler: 'ddim', text_scale: 3, face_scale: 2 },
  };
}

/** Every required leaf/object path of the contract's manifest. */
export const REQUIRED_FIELDS = [
  'format_version', 'name', 'created', 'license', 'files',
  'files.text_encoder', 'files.text_encoder.path', 'files.text_encoder.sha256',
  'files.face_projector', 'files.face_projector.path', 'files.face_projector.sha256',
  'files.unet', 'files.unet.path', 'files.unet.sha256',
  'files.tokenizer', 'files.tokenizer.path', 'files.tokenizer.sha256',
  'image', 'image.resolution', 'image.channels', 'image.pixel_range', 'image.layout',
  'text', 'text.context_length', 'text.width', 'text.face_tokens',
  'face', 'face.embedding_dim', 'face.embedder',
  'schedule', 'schedule.type', 'schedule.num_train_timesteps', 'schedule.betas',
  'prediction_type', 'unet_info', 'unet_info.params', 'unet_info.gflops_per_eval',
  'identity', 'identity.count', 'identity.mean', 'identity.cholesky', 'identity.directions',
  'training', 'training.stages', 'training.data', 'training.config',
  'defaults', 'defaults.steps', 'defaults.sampler', 'defaults.text_scale', 'defaults.face_scale',
];
