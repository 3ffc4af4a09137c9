// Registry of CLI commands: one module per command, each exporting `register(program)`.
import type { Command } from 'commander';
import { register as bench } from './bench.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [bench];
