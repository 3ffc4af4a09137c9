// `face0 train …` / `face0 export …`: delegate to the PyTorch trainer (trainer/face0_trainer),
// which owns its flags (argparse): everything after the command is passed through unchanged.
import { Command } from 'commander';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TRAINER_DIR = fileURLToPath(new URL('../../../trainer', import.meta.url));

export function pythonExecutable(): string {
  return process.env.FACE0_PYTHON ?? '/usr/bin/python3';
}

/** Throws a message that says what to install when Python or torch is missing. */
export function checkPython(python = pythonExecutable()): void {
  if (python.includes('/') && !existsSync(python)) {
    throw new Error(`${python} not found: install Python 3 (apt-get install python3 python3-torch python3-numpy python3-pil) or set FACE0_PYTHON`);
  }
  const r = spawnSync(python, ['-c', 'import torch, numpy, PIL; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`${python} cannot import torch, numpy and PIL (${(r.stderr || r.error?.message || '').trim().split('\n').pop()}): on Debian run "apt-get install python3-torch python3-numpy python3-pil libopenblas0-pthread", or point FACE0_PYTHON at a Python that has them`);
  }
}

function delegate(sub: string, args: string[]): Promise<void> {
  checkPython();
  return new Promise((resolve, reject) => {
    const child = spawn(pythonExecutable(), ['-m', 'face0_trainer', sub, ...args], { cwd: TRAINER_DIR, stdio: 'inherit' });
    // Ctrl-C reaches the child through the terminal's process group; SIGTERM is forwarded so the
    // trainer can write its checkpoint.
    const forward = () => child.kill('SIGTERM');
    process.once('SIGTERM', forward);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.removeListener('SIGTERM', forward);
      if (code === 0) resolve();
      else reject(new Error(`trainer ${sub} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

export function register(program: Command): void {
  for (const [name, what] of [['train', 'train the Face0 model (PyTorch): base or face0 stage'], ['export', 'export a checkpoint to an ONNX model bundle']] as const) {
    program
      .command(name)
      .description(`${what}; flags go to "python -m face0_trainer ${name}" (run "face0 ${name} --help"). Paths are relative to trainer/.`)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .argument('[args...]')
      .action((args: string[]) => delegate(name, args));
  }
}
