// Shared flag parsers for commander: they throw commander's InvalidArgumentError, which prints
// a one-line message naming the flag.
import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export function intOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return n;
}

export function numberOption(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

/** ../shared/data relative to the project root (or the working directory), as the brief lays it out. */
export function defaultDataDir(): string {
  const fromPackage = resolve(new URL('../../../shared/data', import.meta.url).pathname);
  return existsSync(fromPackage) ? fromPackage : resolve('../shared/data');
}

/** `--seeds 0,1,2`: distinct non-negative integers. */
export function seedList(v: string): number[] {
  const xs = v.split(',').map((x) => x.trim());
  if (xs.some((x) => !/^\d+$/.test(x))) throw new InvalidArgumentError(`expected comma-separated non-negative integers, got "${v}"`);
  const seeds = xs.map(Number);
  if (new Set(seeds).size !== seeds.length) throw new InvalidArgumentError(`a seed is repeated in "${v}"`);
  return seeds;
}
