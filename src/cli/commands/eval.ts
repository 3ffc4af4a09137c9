// `face0 eval`: identity, prompt fidelity, trade-off, consistency, bias and speed on held-out people
// (library code in src/eval/run.ts).
import { Option, type Command } from 'commander';
import { intOption, seedList } from '../options.js';
import { resolveBundle } from '../shared.js';
import { runEval } from '../../eval/run.js';
import { runEvalSeeds } from '../../eval/pool.js';

interface Flags {
  bundle?: string;
  data: string;
  holdout?: string;
  identities?: number;
  perIdentity?: number;
  characters?: number;
  prompts?: string;
  out: string;
  seed: number;
  seeds?: number[];
  steps?: number;
  quick?: boolean;
  threads?: number;
  evalNet: string;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('measure a bundle on held-out people: identity (S_same/S_diff/S_gen, gap closure G), top-1 identification, face rate, prompt fidelity, trade-off, consistency, bias, speed')
    .option('--bundle <dir>', 'model bundle folder (default: models/face0-64, else the tiny test bundle)')
    .requiredOption('--data <dir>', 'CelebA-layout folder (images/, identity.txt, attributes.txt)')
    .option('--holdout <file>', 'held-out people, one `celeba:ID` per line (default: every identity of --data)')
    .option('--identities <n>', 'number of people (default 6; quick 2)', intOption)
    .option('--per-identity <k>', 'real photos per person (default 4; quick 2)', intOption)
    .option('--characters <n>', 'random identities in the consistency measurement (default 4; quick 2)', intOption)
    .option('--prompts <file>', 'prompt set JSON (default eval/prompts.json)')
    .option('-o, --out <dir>', 'output folder for report.md, report.json and images', 'eval-out')
    .option('--seed <n>', 'seed of identity draws and generations', intOption, 0)
    .addOption(new Option('--seeds <list>', 'several seeds, comma-separated (e.g. 0,1): the eval once per seed into OUT/seed-S, then pooled.md and pooled.json').argParser(seedList).conflicts('seed'))
    .option('--steps <n>', 'sampling steps (default: the bundle\'s; quick ≤ 4)', intOption)
    .option('--quick', 'smallest run: 2 people x 2 photos, 2 prompts, 2x1 grid (smoke test)')
    .option('--threads <n>', 'ONNX Runtime threads', intOption)
    .option('--eval-net <name>', 'independent recognition network: faceres, or none (conditioning network only)', 'faceres')
    .action(async (flags: Flags) => {
      const command = ['face0', ...process.argv.slice(2)].map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a)).join(' ');
      const options = {
        bundleDir: resolveBundle(flags.bundle, (m) => process.stderr.write(m + '\n')),
        dataDir: flags.data,
        holdoutFile: flags.holdout,
        identities: flags.identities,
        perIdentity: flags.perIdentity,
        characters: flags.characters,
        promptsFile: flags.prompts,
        outDir: flags.out,
        seed: flags.seed,
        steps: flags.steps,
        quick: flags.quick,
        threads: flags.threads,
        evalNet: flags.evalNet === 'none' ? null : flags.evalNet,
        command,
        log: (m: string) => process.stderr.write(`eval: ${m}\n`),
      };
      if (flags.seeds) {
        const { md } = await runEvalSeeds(options, flags.seeds);
        console.log(md);
        console.log(`wrote ${flags.out}/pooled.md and pooled.json, and one full report per seed in ${flags.out}/seed-S/`);
        return;
      }
      const r = (await runEval(options)) as { identity: Record<string, Record<string, { G: number | null; face_rate: number | null }>>; identification?: Record<string, Record<string, { top1: number | null; chance: number }>>; prompt_fidelity: { overall_face_on: number | null }; speed: { seconds_per_image_face: { mean: number | null }; seconds_per_image_base: { mean: number | null } }; seconds: number };
      for (const [net, sides] of Object.entries(r.identity)) {
        console.log(`G (${net === 'eval' ? 'evaluation net' : 'conditioning net'}): Face0 ${sides.face.G ?? 'n/a'} (face rate ${sides.face.face_rate ?? 'n/a'}), base ${sides.base.G ?? 'n/a'}`);
      }
      for (const [net, sides] of Object.entries(r.identification ?? {})) {
        console.log(`top-1 identification (${net === 'eval' ? 'evaluation net' : 'conditioning net'}): Face0 ${sides.face.top1 ?? 'n/a'}, base ${sides.base.top1 ?? 'n/a'} (chance ${sides.face.chance})`);
      }
      console.log(`prompt fidelity (face on): ${r.prompt_fidelity.overall_face_on ?? 'n/a'}`);
      console.log(`seconds/image: Face0 ${r.speed.seconds_per_image_face.mean} base ${r.speed.seconds_per_image_base.mean}`);
      console.log(`wrote ${flags.out}/report.md and report.json (${r.seconds} s)`);
    });
}
