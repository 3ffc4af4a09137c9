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
