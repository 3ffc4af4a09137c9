// `face0 bench <what>`: measurements that print figures (never run inside timed tests).
import { Command } from 'commander';
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
}
