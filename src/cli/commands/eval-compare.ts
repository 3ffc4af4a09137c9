// `face0 eval-compare A B`: two evals on the same seeds, paired image by image (src/eval/compare.ts).
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { intOption } from '../options.js';
import { compareEvals, comparisonMd, readEvalReports } from '../../eval/compare.js';

interface Flags { json?: string; bootstrap: number }

export function register(program: Command): void {
  program
    .command('eval-compare')
    .description('compare two evals of different bundles on the same seeds, paired by person and image: ΔG, Δtop-1 and Δfidelity (B − A) with bootstrap CIs over people')
    .argument('<a>', 'eval output folder of A (report.json, or seed-S/report.json from --seeds)')
    .argument('<b>', 'eval output folder of B, same seeds, people and prompts')
    .option('--json <file>', 'also write the comparison as JSON')
    .option('--bootstrap <n>', 'bootstrap draws', intOption, 2000)
    .action(async (a: string, b: string, flags: Flags) => {
      if (flags.bootstrap < 100) throw new Error(`--bootstrap: at least 100 draws (got ${flags.bootstrap})`);
      const command = ['face0', ...process.argv.slice(2)].join(' ');
      const c = compareEvals(await readEvalReports(a), await readEvalReports(b), { B: flags.bootstrap, aPath: a, bPath: b });
      console.log(comparisonMd(c, command));
      if (flags.json) await writeFile(flags.json, JSON.stringify({ command, created: new Date().toISOString(), ...c }, null, 2) + '\n');
    });
}
