// Registry of CLI commands: one module per command, each exporting `register(program)`.
import type { Command } from 'commander';
import { register as augment } from './augment.js';
import { register as bench } from './bench.js';
import { register as generate } from './generate.js';
import { register as benchGenerate } from './bench-generate.js';
import { register as serve } from './serve.js';
import { register as train } from './train.js';
import { register as evaluate } from './eval.js';
import { register as evalCompare } from './eval-compare.js';
import { register as benchLoad } from './bench-load.js';
import { register as buildWeb } from './build-web.js';
import { register as benchBrowser } from './bench-browser.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [augment, bench, generate, benchGenerate, benchBrowser, serve, buildWeb, train, benchLoad, evaluate, evalCompare];
