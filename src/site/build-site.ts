// `face0 build-web`: a folder any static host can serve (no API routes) that generates on the
// visitor's device: the page, the browser bundle (src/web/ bundled with esbuild), ONNX Runtime
// Web's wasm, TensorFlow.js' wasm, face-api's weights and the model bundle.
//
// Layout (src/web/browser-pipeline.ts SITE_LAYOUT): index.html app.js style.css face0.js
// ort/ tfjs/ face-api/ bundle/ _headers face0-site.json.
import { build, type Plugin } from 'esbuild';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../model/bundle.js';
import { BUNDLE_FILES } from '../model/bundle-load.js';
import { ISOLATION_HEADERS } from './isolation.js';

const require = createRequire(import.meta.url);
const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
/** The page: the same files `face0 serve` serves. */
export const PAGE_DIR = join(PACKAGE_ROOT, 'src', 'server', 'web');
const WEB_ENTRY = join(PACKAGE_ROOT, 'src', 'web', 'main.ts');
const SITE_MARKER = 'face0-site.json';

/** ONNX Runtime Web: its ESM build, the wasm and the wasm's glue (which also starts the threads' workers). */
const ORT_FILES = ['ort.bundle.min.mjs', 'ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];
const TFJS_WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
const FACE_API_MODELS = ['tiny_face_detector_model', 'ssd_mobilenetv1_model', 'face_landmark_68_model', 'face_recognition_model'];

export { ISOLATION_HEADERS } from './isolation.js';

export interface BuildSiteOptions {
  bundleDir: string;
  out: string;
  /** Minify the browser bundle (default true). */
  minify?: boolean;
  /** For `face0 serve`: the page also offers "on the server" (the marker says the site is not static). */
  withServer?: boolean;
}

export interface BuiltSite {
  out: string;
  files: number;
  bytes: number;
  bundle: string;
  buildMs: number;
}

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** ONNX Runtime Web stays its own file: its threads start workers from their own script's URL. */
const ortAsSiteFile: Plugin = {
  name: 'onnxruntime-web-as-site-file',
  setup(b) {
    b.onResolve({ filter: /^onnxruntime-web$/ }, () => ({ path: './ort/ort.bundle.min.mjs', external: true }));
  },
};

async function folderSize(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0, bytes = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += (await stat(join(e.parentPath, e.name))).size;
  }
  return { files, bytes };
}

async function copyInto(srcDir: string, names: readonly string[], destDir: string): Promise<void> {
  await mkdir(destDir, { recursive: true });
  for (const n of names) {
    await mkdir(dirname(join(destDir, n)), { recursive: true });
    await copyFile(join(srcDir, n), join(destDir, n));
  }
}

export async function buildSite(o: BuildSiteOptions): Promise<BuiltSite> {
  const t0 = performance.now();
  const out = resolve(o.out);
  // checked before anything is written: a broken bundle never makes a site
  const bundle = await loadBundle(o.bundleDir);
  if (existsSync(out)) {
    const entries = await readdir(out);
    if (entries.length > 0 && !entries.includes(SITE_MARKER)) throw new Error(`${o.out} exists and is not a face0 site; give an empty or new folder`);
    await rm(out, { recursive: true, force: true });
  }
  await mkdir(out, { recursive: true });
  // the marker first: a half-written site (an interrupted build) is still replaced next time
  await writeFile(join(out, SITE_MARKER), JSON.stringify({ static: !o.withServer, bundle: bundle.manifest.name, manifest_sha256: bundle.manifestSha256 }, null, 2) + '\n');

  await build({
    entryPoints: [WEB_ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: o.minify ?? true,
    sourcemap: false,
    outfile: join(out, 'face0.js'),
    plugins: [ortAsSiteFile],
    logLevel: 'error',
    legalComments: 'eof',
  });
  await copyInto(PAGE_DIR, ['index.html', 'app.js', 'style.css'], out);
  // onnxruntime-web's exports map has no ./package.json; its wasm file is exported
  await copyInto(dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm')), ORT_FILES, join(out, 'ort'));
  await copyInto(join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist'), TFJS_WASM_FILES, join(out, 'tfjs'));
  const faceApiModels = join(packageDir('@vladmandic/face-api'), 'model');
  const weightFiles: string[] = [];
  for (const m of FACE_API_MODELS) {
    const manifest = `${m}-weights_manifest.json`;
    const groups = JSON.parse(await readFile(join(faceApiModels, manifest), 'utf8')) as { paths: string[] }[];
    weightFiles.push(manifest, ...groups.flatMap((g) => g.paths));
  }
  await copyInto(faceApiModels, weightFiles, join(out, 'face-api'));
  const bundleFiles = ['manifest.json', ...BUNDLE_FILES.map((k) => bundle.manifest.files[k].path)];
  if (existsSync(join(bundle.dir, 'MODEL_CARD.md'))) bundleFiles.push('MODEL_CARD.md');
  await copyInto(bundle.dir, bundleFiles, join(out, 'bundle'));
  await writeFile(join(out, '_headers'), `/*\n${Object.entries(ISOLATION_HEADERS).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
  const size = await folderSize(out);
  return { out, ...size, bundle: bundle.manifest.name, buildMs: performance.now() - t0 };
}
