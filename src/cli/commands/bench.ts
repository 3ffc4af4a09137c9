// `face0 bench <what>`: measurements that print figures (never run inside timed tests).
import { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAugment } from '../../data/augment/augment.js';
import { openSource } from '../../data/sources/index.js';
import { runVerification } from '../../eval/verify-run.js';
import { FRAMINGS } from '../../face/align.js';
import { defaultDataDir, intOption, numberOption } from '../options.js';

export function register(program: Command): void {
  const bench = program.command('bench').description('benchmarks and measurements');
  bench
    .command('verify')
    .description('face verification accuracy (same vs different person, best threshold) of the conditioning embedder with our alignment, on a CelebA-layout folder')
    .option('--data <dir>', 'CelebA-layout folder (images/, identity.txt)', `${defaultDataDir()}/celeba-subset`)
    .option('--identities <n>', 'identities to sample', intOption, 40)
    .option('--per-identity <k>', 'photos per identity', intOption, 6)
    .option('--seed <s>', 'sampling seed', intOption, 0)
    .option('--zoom <z>', 'recognition crop zoom (default: the shipped framing)', numberOption)
    .option('--shift-y <y>', 'recognition crop vertical shift (default: the shipped framing)', numberOption)
    .option('--json', 'print the result as JSON')
    .action(async (o: { data: string; identities: number; perIdentity: number; seed: number; zoom?: number; shiftY?: number; json?: boolean }) => {
      const framing = { zoom: o.zoom ?? FRAMINGS.recognition.zoom, shiftY: o.shiftY ?? FRAMINGS.recognition.shiftY };
      const r = await runVerification({ dataDir: o.data, identities: o.identities, perIdentity: o.perIdentity, seed: o.seed, framing });
      if (o.json) { console.log(JSON.stringify(r, null, 2)); return; }
      console.log(`embedder            ${r.embedder}`);
      console.log(`identities/images   ${r.identities} / ${r.images} (no face: ${r.noFace})`);
      console.log(`pairs               ${r.pairs} (half same-person)`);
      console.log(`accuracy (best thr) ${r.accuracy.toFixed(4)} at cosine ${r.threshold.toFixed(3)}`);
      console.log(`accuracy (10-fold)  ${r.kFoldAccuracy.toFixed(4)}`);
      console.log(`mean cos same/diff  ${r.meanSame.toFixed(3)} / ${r.meanDiff.toFixed(3)}`);
      console.log(`ms per image        ${r.msPerImage.toFixed(1)} (decode+detect+align+embed, 1 thread)`);
    });

  bench
    .command('augment')
    .description('augment throughput (source images/s) with 1 thread and with all cores, side by side in one process; steady state excludes worker start-up')
    .option('--data <dir>', 'folder holding celeba-subset/ and utkface/', defaultDataDir())
    .option('--images <n>', 'images per source per configuration', intOption, 300)
    .option('--threads <list>', 'thread counts to compare', '1,2')
    .action(async (o: { data: string; images: number; threads: string }) => {
      for (const threads of o.threads.split(',').map(Number)) {
        for (const spec of [`celeba:${o.data}/celeba-subset`, `utkface:${o.data}/utkface`]) {
          const out = mkdtempSync(join(tmpdir(), 'face0-bench-'));
          let tStart = 0, nStart = 0, tLast = 0, nLast = 0;
          const t0 = performance.now();
          try {
            await runAugment({
              sources: [openSource(spec)], out, limit: o.images, threads, shardSize: 1000,
              onProgress: (p) => {
                const now = performance.now();
                if (p.done > 0 && nStart === 0 && p.done >= Math.max(2 * threads, o.images * 0.1)) { tStart = now; nStart = p.done; }
                tLast = now; nLast = p.done;
              },
            });
          } finally { rmSync(out, { recursive: true, force: true }); }
          const wall = (performance.now() - t0) / 1000;
          const steady = (nLast - nStart) / Math.max(1e-3, (tLast - tStart) / 1000);
          console.log(`threads ${threads}  ${spec.split(':')[0].padEnd(8)} ${nLast} images  wall ${wall.toFixed(1)} s (${(nLast / wall).toFixed(1)} img/s incl. start-up)  steady ${steady.toFixed(1)} img/s`);
        }
      }
    });
}
