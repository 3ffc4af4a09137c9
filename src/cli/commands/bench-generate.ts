// `face0 bench generate`: generation speed on one bundle, one process.
//   - median wall time per image at the bundle's defaults (count 1), Face0 (3-way guidance, a
//     cached embedding: a random identity) vs the same bundle with the face off (2-way, base CFG);
//     uncached = a face photo through the face analyzer every time (when one is available);
//   - time per UNet evaluation at batch 1, 2, 3 and GFLOP/s achieved, from manifest
//     unet_info.gflops_per_eval (taken as GFLOP per image per evaluation);
//   - the matrix-multiply roofline measured in the same run: a 1024³ MatMul as a one-node ONNX
//     graph on onnxruntime-node with the same threads (src/model/roofline.ts);
//   - peak RSS (process.resourceUsage().maxRSS).
import { Command } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { createPipeline } from '../../pipeline/generate.js';
import { measureMatmulRoofline, median } from '../../model/roofline.js';
import type { GenerateOptions } from '../../pipeline/types.js';
import { defaultDataDir, intOption } from '../options.js';
import { resolveBundle } from '../shared.js';

interface Flags {
  bundle?: string;
  threads?: number;
  repeats: number;
  face?: string;
  steps?: number;
  json?: boolean;
  noFace?: boolean;
}

function defaultFacePhoto(): string | undefined {
  const dir = join(defaultDataDir(), 'celeba-subset', 'images');
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).filter((x) => /\.(jpe?g|png)$/i.test(x)).sort()[0];
  return f ? join(dir, f) : undefined;
}

async function run(f: Flags): Promise<void> {
  const log = f.json ? () => {} : (s: string) => console.log(s);
  const bundleDir = resolveBundle(f.bundle, (m) => console.error(m));
  const threads = f.threads ?? availableParallelism();
  const tLoad = performance.now();
  const p = await createPipeline({ bundleDir, threads });
  const loadMs = performance.now() - tLoad;
  const m = p.bundle.manifest;
  const s = p.sessions;
  const result: Record<string, unknown> = {
    bundle: { name: m.name, dir: p.bundle.dir, resolution: m.image.resolution, unet_params: m.unet_info.params, gflops_per_eval: m.unet_info.gflops_per_eval },
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), threads, node: process.version },
    load_ms: loadMs,
    warmup_ms: s.warmupMs,
  };
  log(`bundle       ${m.name} (${p.bundle.dir}), ${m.image.resolution}x${m.image.resolution}, UNet ${m.unet_info.params} params, ${m.unet_info.gflops_per_eval} GFLOP/eval`);
  log(`machine      ${(result.machine as { cpu: string }).cpu}, ${availableParallelism()} cores, ${threads} ORT threads, node ${process.version}`);
  log(`load         ${loadMs.toFixed(0)} ms (incl. sha256 + warm-up ${s.warmupMs.toFixed(0)} ms)`);

  try {
    // --- UNet evaluation time per batch size --------------------------------------------------
    const px = s.C * s.H * s.W;
    const perBatch: Record<string, { ms: number; ms_per_image: number; gflops: number }> = {};
    for (const b of [1, 2, 3]) {
      const x = new Float32Array(b * px).map((_, i) => Math.sin(i));
      const t = new Float32Array(b).fill(500);
      const ctx = new Float32Array(b * s.L * s.D).map((_, i) => Math.cos(i) * 0.1);
      await s.unet(x, t, ctx, b);
      const times: number[] = [];
      for (let r = 0; r < Math.max(5, f.repeats * 2); r++) {
        const t0 = performance.now();
        await s.unet(x, t, ctx, b);
        times.push(performance.now() - t0);
      }
      const ms = median(times);
      perBatch[b] = { ms, ms_per_image: ms / b, gflops: (m.unet_info.gflops_per_eval * b) / (ms / 1000) };
    }
    result.unet = perBatch;
    const roof = await measureMatmulRoofline({ threads });
    result.roofline = { method: `onnxruntime MatMul ${roof.n}x${roof.n}x${roof.n} float32, one-node graph built in-process`, ...roof };
    log(`UNet eval    ${[1, 2, 3].map((b) => `batch ${b}: ${perBatch[b].ms.toFixed(2)} ms (${perBatch[b].gflops.toFixed(1)} GFLOP/s)`).join(' | ')}`);
    log(`roofline     ${roof.gflops.toFixed(1)} GFLOP/s (ONNX MatMul ${roof.n}³, ${threads} threads, median ${roof.medianMs.toFixed(1)} ms) -> UNet at batch 3 reaches ${((100 * perBatch[3].gflops) / roof.gflops).toFixed(0)}%`);

    // --- wall time per image ------------------------------------------------------------------
    const base: GenerateOptions = { prompt: 'a photo of a person smiling', seed: 1, count: 1 };
    if (f.steps) base.steps = f.steps;
    const time = async (o: GenerateOptions, before?: () => void) => {
      await p.generate(o);
      const walls: number[] = [];
      let last;
      for (let r = 0; r < f.repeats; r++) {
        before?.();
        const t0 = performance.now();
        last = await p.generate({ ...o, seed: r + 1 });
        walls.push(performance.now() - t0);
      }
      return { ms: median(walls), meta: last!.metadata };
    };
    const faceOff = await time({ ...base });
    const faceOn = await time({ ...base, randomIdentity: 7 });
    // Same guidance weight on text and face: the text-only branch has weight 0 and is skipped, so
    // this is Face0 at exactly the base model's number of UNet evaluations (the paper's claim).
    const sJoint = faceOff.meta.text_scale;
    const joint = await time({ ...base, randomIdentity: 7, textScale: sJoint, faceScale: sJoint });
    const per = (x: { ms: number; meta: { unet_evals: number; steps: number; sampler: string; guidance: { mode: string } } }) => ({
      ms_per_image: x.ms,
      unet_evals: x.meta.unet_evals,
      ms_per_unet_call: x.ms / x.meta.unet_evals,
      guidance: x.meta.guidance.mode,
    });
    const gen: Record<string, unknown> = {
      steps: faceOn.meta.steps,
      sampler: faceOn.meta.sampler,
      face_off: per(faceOff),
      face_on_cached: per(faceOn),
      ratio_cached: faceOn.ms / faceOff.ms,
      face_on_joint: per(joint),
      ratio_joint: joint.ms / faceOff.ms,
    };
    log(`per image    defaults: ${faceOn.meta.sampler}, ${faceOn.meta.steps} steps, median of ${f.repeats}`);
    log(`  face off   ${faceOff.ms.toFixed(1)} ms (${faceOff.meta.guidance.mode}, ${faceOff.meta.unet_evals} batched UNet calls of 2)`);
    log(`  Face0      ${faceOn.ms.toFixed(1)} ms (${faceOn.meta.guidance.mode}, cached embedding, batch 3) -> ${(faceOn.ms / faceOff.ms).toFixed(2)}x face off`);
    log(`  Face0 s_text=s_face=${sJoint} ${joint.ms.toFixed(1)} ms (${joint.meta.guidance.mode}, cached embedding, batch 2) -> ${(joint.ms / faceOff.ms).toFixed(2)}x face off`);
    const photo = f.noFace ? undefined : (f.face ?? defaultFacePhoto());
    if (photo) {
      try {
        const unc = await time({ ...base, face: photo }, () => p.clearCaches());
        gen.face_on_uncached = { ...per(unc), photo, ratio: unc.ms / faceOff.ms };
        log(`  Face0 photo ${unc.ms.toFixed(1)} ms (uncached: decode+detect+align+embed each time, ${photo}) -> ${(unc.ms / faceOff.ms).toFixed(2)}x face off`);
      } catch (err) {
        gen.face_on_uncached = { error: (err as Error).message };
        log(`  Face0 photo n/a: ${(err as Error).message}`);
      }
    } else {
      log('  Face0 photo n/a (no face photo: pass --face)');
    }
    result.generate = gen;
  } finally {
    await p.close();
  }
  const rssMb = process.resourceUsage().maxRSS / 1024;
  result.peak_rss_mb = rssMb;
  log(`peak RSS     ${rssMb.toFixed(0)} MB`);
  if (f.json) console.log(JSON.stringify(result, null, 2));
}

function configure(cmd: Command): Command {
  return cmd
    .description('generation speed: per image, per UNet evaluation, GFLOP/s vs a MatMul roofline, Face0 vs face off, peak RSS')
    .option('--bundle <dir>', 'model bundle folder (default: models/face0-64, else the tiny test bundle)')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', intOption)
    .option('--repeats <n>', 'timed generations per setting (median)', intOption, 5)
    .option('--steps <n>', 'override the bundle\'s default steps', intOption)
    .option('--face <photo>', 'face photo for the uncached (analyzer) measurement (default: first CelebA-subset image)')
    .option('--no-face', 'skip the face-photo measurement')
    .option('--json', 'print the result as JSON')
    .action((f: Omit<Flags, 'face'> & { face?: string | false }) => run({ ...f, face: f.face === false ? undefined : f.face, noFace: f.face === false }));
}

export function register(program: Command): void {
  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks and measurements');
  configure(bench.command('generate'));
}
