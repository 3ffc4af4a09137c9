// `face0 generate`: images of a person (face photo, random identity, mix, attribute edits) from a prompt.
import { Command, Option } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { createPipeline } from '../../pipeline/generate.js';
import { makeGrid } from '../../pipeline/image.js';
import { SAMPLERS, type SamplerName } from '../../diffusion/samplers.js';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from '../../diffusion/schedule.js';
import type { GenerateOptions } from '../../pipeline/types.js';
import { intOption, numberOption } from '../options.js';
import { collect, parseAttributes, parseMix, readEmbeddingFile, resolveBundle } from '../shared.js';

interface Flags {
  bundle?: string;
  face: string[];
  faceIndex?: number;
  embedding?: string;
  randomIdentity?: number;
  mix?: string;
  attr: string[];
  prompt: string;
  count: number;
  out: string;
  prefix: string;
  grid?: boolean;
  textScale?: number;
  faceScale?: number;
  faceStart?: number;
  guidanceRescale?: number;
  steps?: number;
  sampler?: SamplerName;
  spacing?: TimestepSpacing;
  seed?: number;
  eta?: number;
  threads?: number;
  verify: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('generate')
    .description('generate images of a person from a face photo (or a random identity) and a prompt')
    .requiredOption('-p, --prompt <text>', 'what to draw, e.g. "a photo of a person smiling" ("" for none)')
    .option('--bundle <dir>', 'model bundle folder (default: models/face0-64, else the tiny test bundle)')
    .option('-f, --face <photo>', 'face photo; repeat for several photos of the same person (embeddings are averaged)', collect, [])
    .option('--face-index <i>', 'which face to use when a photo has several (0 = largest)', intOption)
    .option('--embedding <file>', 'identity embedding file (.npy float32 or .json array) instead of a photo')
    .option('--random-identity <seed>', 'an invented person: a seeded draw from the bundle\'s identity prior', intOption)
    .option('--mix <list>', 'mix identities: PHOTO:WEIGHT[,PHOTO:WEIGHT…], e.g. a.jpg:0.7,b.jpg:0.3')
    .option('--attr <name=amount>', 'move the identity along an attribute direction, e.g. Young=0.8 (repeatable, or comma-separated)', collect, [])
    .option('-n, --count <n>', 'number of images', intOption, 1)
    .option('-o, --out <dir>', 'output folder', 'out')
    .option('--prefix <name>', 'file name prefix', 'face0')
    .option('--grid', 'also write grid.png with all images')
    .option('--text-scale <s>', 'text guidance scale (default: the bundle\'s)', numberOption)
    .option('--face-scale <s>', 'face guidance scale; 0 turns the face off (default: the bundle\'s)', numberOption)
    .option('--face-start <f>', 'fraction of the steps, noisiest first, sampled before the face joins (default: the bundle\'s, else 0)', numberOption)
    .option('--guidance-rescale <phi>', 'guidance rescale 0..1 against dark, contrasty pictures at large scales (default: the bundle\'s, else 0)', numberOption)
    .option('--steps <n>', 'sampling steps (default: the bundle\'s)', intOption)
    .addOption(new Option('--sampler <name>', 'sampler (default: the bundle\'s)').choices([...SAMPLERS]))
    .addOption(new Option('--spacing <name>', 'timestep spacing (default: linspace, as the trainer\'s reference sampler)').choices([...TIMESTEP_SPACINGS]))
    .option('--seed <n>', 'seed of the first image; image i uses seed+i (default: random)', intOption)
    .option('--eta <x>', 'DDIM stochasticity, 0..1 (ddim only)', numberOption)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', intOption)
    .option('--no-verify', 'skip checking the bundle files\' sha256')
    .option('-q, --quiet', 'no progress bar')
    .action(async (f: Flags) => {
      const bundleDir = resolveBundle(f.bundle, (m) => console.error(m));
      const opts: GenerateOptions = { prompt: f.prompt, count: f.count };
      if (f.face.length === 1) opts.face = f.face[0];
      else if (f.face.length > 1) opts.faces = f.face;
      if (f.faceIndex !== undefined) opts.faceIndex = f.faceIndex;
      if (f.embedding) opts.embedding = readEmbeddingFile(f.embedding);
      if (f.randomIdentity !== undefined) opts.randomIdentity = f.randomIdentity;
      if (f.mix) opts.mix = parseMix(f.mix);
      const attributes = parseAttributes(f.attr);
      if (Object.keys(attributes).length) opts.attributes = attributes;
      for (const k of ['textScale', 'faceScale', 'faceStart', 'guidanceRescale', 'steps', 'sampler', 'seed', 'eta'] as const) {
        if (f[k] !== undefined) (opts as unknown as Record<string, unknown>)[k] = f[k];
      }
      if (f.spacing) opts.timestepSpacing = f.spacing;

      const pipeline = await createPipeline({ bundleDir, threads: f.threads, verify: f.verify });
      let bar: cliProgress.SingleBar | undefined;
      try {
        if (process.stderr.isTTY && !f.quiet) {
          bar = new cliProgress.SingleBar(
            { format: 'sampling [{bar}] {value}/{total} steps | {duration_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
            cliProgress.Presets.shades_classic,
          );
          let started = false;
          opts.onStep = (i, n) => {
            if (!started) {
              bar!.start(n, 0);
              started = true;
            }
            bar!.update(i);
          };
        }
        const ac = new AbortController();
        const onSig = () => ac.abort();
        process.once('SIGINT', onSig);
        opts.signal = ac.signal;
        let res;
        try {
          res = await pipeline.generate(opts);
        } finally {
          process.off('SIGINT', onSig);
          bar?.stop();
        }
        await mkdir(f.out, { recursive: true });
        const written: string[] = [];
        for (const [i, img] of res.images.entries()) {
          const base = join(f.out, `${f.prefix}-${img.seed}`);
          await writeFile(`${base}.png`, img.png);
          const sidecar = { ...res.metadata, image_index: i, image_seed: img.seed, file: `${f.prefix}-${img.seed}.png` };
          await writeFile(`${base}.json`, JSON.stringify(sidecar, null, 2) + '\n');
          written.push(`${base}.png`);
        }
        if (f.grid) {
          const g = join(f.out, `${f.prefix}-grid-${res.metadata.seed}.png`);
          await writeFile(g, await makeGrid(res.images.map((x) => x.png)));
          written.push(g);
        }
        for (const w of res.metadata.warnings) console.error(`warning: ${w}`);
        const t = res.metadata.timings;
        console.log(written.join('\n'));
        console.error(
          `${res.images.length} image(s), seed ${res.metadata.seed}, ${res.metadata.sampler} ${res.metadata.steps} steps, guidance ${res.metadata.guidance.mode}; ` +
            `${(t.total_ms / 1000).toFixed(2)} s (face ${t.face_ms.toFixed(0)} ms, text ${t.text_ms.toFixed(0)} ms, sampling ${t.sampling_ms.toFixed(0)} ms, decode ${t.decode_ms.toFixed(0)} ms)`,
        );
      } finally {
        await pipeline.close();
      }
    });
}
