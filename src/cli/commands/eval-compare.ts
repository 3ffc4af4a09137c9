// `face0 eval-compare A B`: two evals on the same seeds, paired image by image (src/eval/compare.ts).
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { intOption } from '../options.js';
import { compareEvals, comparisonMd, readEvalReports } from '../../eval/compare.js';
import { checkShipRule, parseShipRule, shipRuleMd } from '../../eval/ship-rule.js';

interface Flags { json?: string; bootstrap: number; rule?: string }

export function register(program: Command): void {
  program
    .command('eval-compare')
    .description('compare two evals of different bundles on the same seeds, paired by person and image: ΔG, Δtop-1 and Δfidelity (B − A) with bootstrap CIs over people')
    .argument('<a>', 'eval output folder of A (report.json, or seed-S/report.json from --seeds)')
    .argument('<b>', 'eval output folder of B, same seeds, people and prompts')
    .option('--json <file>', 'also write the comparison as JSON')
    .option('--bootstrap <n>', 'bootstrap draws', intOption, 2000)
    .option('--rule <file>', 'also check a ship rule (JSON clauses, e.g. eval/ship-rule.json) with A as the default and B as the candidate')
    .action(async (a: string, b: string, flags: Flags) => {
      if (flags.bootstrap < 100) throw new Error(`--bootstrap: at least 100 draws (got ${flags.bootstrap})`);
      const command = ['face0', ...process.argv.slice(2)].join(' ');
      // the rule is read first: a malformed one fails before the bootstrap runs
      const rule = flags.rule ? parseShipRule(JSON.parse(await readFile(flags.rule, 'utf8')), flags.rule) : null;
      const bReports = await readEvalReports(b);
      const c = compareEvals(await readEvalReports(a), bReports, { B: flags.bootstrap, aPath: a, bPath: b });
      const verdict = rule && checkShipRule(rule, c, bReports);
      console.log(comparisonMd(c, command));
      if (verdict) console.log(shipRuleMd(verdict, flags.rule!));
      const ship = verdict ? { ship_rule: { file: flags.rule, rule, ...verdict } } : {};
      if (flags.json) await writeFile(flags.json, JSON.stringify({ command, created: new Date().toISOString(), ...c, ...ship }, null, 2) + '\n');
    });
}
