// Runs `face0 <args>` in-process (the commander program from src/cli), its output silenced.
import { buildProgram } from '../../src/cli/index.js';

export async function cli(args: string[]): Promise<void> {
  const log = console.log, err = console.error;
  console.log = () => {};
  console.error = () => {};
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'face0', ...args]);
  } finally {
    console.log = log;
    console.error = err;
  }
}
