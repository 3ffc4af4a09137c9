// `face0 bench browser`: seconds per image in headless Chromium (onnxruntime-web wasm, N threads
// on a cross-origin isolated page; WebGPU with --webgpu, measured, not assumed faster) against Node
// (onnxruntime-node, the same threads) in the same run, same bundle, prompt, identity and seed.
// Needs Chromium and the playwright-core package (a devDependency).
import { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipeline } from '../../pipeline/generate.js';
import { median } from '../../model/roofline.js';
import { buildSite } from '../../site/build-site.js';
import { serveStatic } from '../../site/static-server.js';
import { intOption } from '../options.js';
import { resolveBundle } from '../shared.js';

interface Flags {
  bundle?: string;
  threads: number;
  repeats: number;
  steps?: number;
  chromium: string;
  webgpu?: boolean;
  json?: boolean;
}

const PROMPT = 'a photo of a person smiling';

interface BrowserRun {
  execution_provider: string;
  threads: number;
  cross_origin_isolated: boolean;
  load_s: number;
  s_per_image: number | null;
  error?: string;
}

async function run(f: Flags): Promise<void> {
  const log = f.json ? () => {} : (s: string) => console.log(s);
  const bundleDir = resolveBundle(f.bundle, (m) => console.error(m));
  const gen = { prompt: PROMPT, randomIdentity: 42, seed: 1, count: 1, ...(f.steps ? { steps: f.steps } : {}) };

  // Node first, alone on the cores
  const p = await createPipeline({ bundleDir, threads: f.threads });
  const nodeTimes: number[] = [];
  let steps = 0;
  try {
    await p.generate(gen);
    for (let i = 0; i < f.repeats; i++) {
      const t0 = performance.now();
      const r = await p.generate(gen);
      nodeTimes.push((performance.now() - t0) / 1000);
      steps = r.metadata.steps;
    }
  } finally {
    await p.close();
  }
  const nodeS = median(nodeTimes);
  log(`bundle       ${bundleDir} (${steps} steps, count 1, ${f.threads} threads, median of ${f.repeats})`);
  log(`node         ${nodeS.toFixed(3)} s/image (onnxruntime-node CPU)`);

  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch {
    throw new Error('bench browser needs the playwright-core package (npm install, with dev dependencies)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'face0-bench-site-'));
  const browserRuns: BrowserRun[] = [];
  try {
    const site = await buildSite({ bundleDir, out: dir });
    const server = await serveStatic(site.out);
    const browser = await playwright.chromium.launch({
      executablePath: f.chromium,
      args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--enable-unsafe-webgpu'],
    });
    try {
      for (const ep of f.webgpu ? (['wasm', 'webgpu'] as const) : (['wasm'] as const)) {
        const page = await browser.newPage();
        // a bare same-origin document (the page itself would start loading with its defaults)
        await page.goto(server.base + '/face0-site.json');
        await page.addScriptTag({ url: '/face0.js', type: 'module' });
        await page.waitForFunction(() => 'face0' in globalThis);
        const r = await page.evaluate(async ({ ep, threads, repeats, gen }) => {
          type F = { configure(o: unknown): void; ready: Promise<{ threads: number; cross_origin_isolated: boolean; load_ms: number; execution_provider: string }>; generate(o: unknown): Promise<string[]> };
          // runs in the page (this file is compiled without DOM types)
          const g = globalThis as unknown as { face0: F; navigator: object; crossOriginIsolated: boolean };
          const f = g.face0;
          if (ep === 'webgpu' && !('gpu' in g.navigator)) return { execution_provider: ep, threads: 0, cross_origin_isolated: g.crossOriginIsolated, load_s: 0, s_per_image: null, error: 'no navigator.gpu in this browser' };
          try {
            f.configure({ executionProvider: ep, threads });
            const info = await f.ready;
            await f.generate(gen);
            const times: number[] = [];
            for (let i = 0; i < repeats; i++) {
              const t0 = performance.now();
              await f.generate(gen);
              times.push((performance.now() - t0) / 1000);
            }
            times.sort((a, b) => a - b);
            return { execution_provider: info.execution_provider, threads: info.threads, cross_origin_isolated: info.cross_origin_isolated, load_s: info.load_ms / 1000, s_per_image: times[Math.floor(times.length / 2)] };
          } catch (err) {
            return { execution_provider: ep, threads, cross_origin_isolated: g.crossOriginIsolated, load_s: 0, s_per_image: null, error: (err as Error).message };
          }
        }, { ep, threads: f.threads, repeats: f.repeats, gen });
        browserRuns.push(r);
        log(`chromium     ${r.s_per_image === null ? `n/a (${r.error})` : `${r.s_per_image.toFixed(3)} s/image`} (onnxruntime-web ${r.execution_provider}, ${r.threads} threads, isolated ${r.cross_origin_isolated}, models loaded in ${r.load_s.toFixed(1)} s)`);
        await page.close();
      }
    } finally {
      await browser.close();
      await server.close();
    }
    log(`site         ${(site.bytes / 1e6).toFixed(1)} MB in ${site.files} files`);
    const wasm = browserRuns[0].s_per_image;
    if (wasm !== null) log(`ratio        chromium wasm / node = ${(wasm / nodeS).toFixed(2)}`);
    if (f.json) console.log(JSON.stringify({ bundle: bundleDir, steps, threads: f.threads, repeats: f.repeats, node_s_per_image: nodeS, browser: browserRuns, site_bytes: site.bytes }, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function register(program: Command): void {
  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks and measurements');
  bench
    .command('browser')
    .description('seconds per image in headless Chromium (onnxruntime-web wasm with threads, WebGPU where present) against Node in the same run')
    .option('--bundle <dir>', 'model bundle folder (default: models/face0-64, else the tiny test bundle)')
    .option('--threads <n>', 'threads for both runtimes', intOption, 2)
    .option('--repeats <n>', 'timed images per runtime (median)', intOption, 3)
    .option('--steps <n>', 'override the bundle\'s default steps', intOption)
    .option('--webgpu', 'also measure the WebGPU execution provider (headless Chromium without a GPU emulates it: slow)')
    .option('--chromium <path>', 'Chromium executable', process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')
    .option('--json', 'print the result as JSON')
    .action((f: Flags) => run(f));
}
