// `face0 eval`: identity (S_same, S_diff, S_gen, G; evaluation network and conditioning network;
// base model as the zero line), top-1 identification, face rate, prompt fidelity, text/identity
// trade-off grid, character consistency, bias decoupling and speed, on held-out people of a
// CelebA-layout folder. Each measurement lives in src/eval/measure/; runEval runs them in order —
// the order is part of the result (seeds are fixed per call, the speed figures pool every call).
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPipeline } from '../pipeline/generate.js';
import { defaultFaceStart } from '../pipeline/pipeline.js';
import { Judges } from './judges.js';
import { AttributeClassifier, DEFAULT_ATTRIBUTE_MODEL_DIR } from './attributes.js';
import { createContext, type EvalOptions, type EvalSetup, type Net, type PromptSet } from './context.js';
import { chooseIdentities, measureRealPhotos } from './measure/real-photos.js';
import { measureIdentity } from './measure/identity.js';
import { measureIdentification } from './measure/identification.js';
import { identityItems } from './measure/items.js';
import { measurePromptFidelity } from './measure/fidelity.js';
import { measureTradeoff } from './measure/tradeoff.js';
import { measureConsistency } from './measure/consistency.js';
import { ceilingSizes, measureCeiling } from './measure/ceiling.js';
import { measureBias } from './measure/bias.js';
import { summarizeSpeed } from './measure/speed.js';
import { writeOutputs } from './measure/outputs.js';

export type { EvalOptions, PromptSet, PromptSpec } from './context.js';
export { readHoldout } from './measure/real-photos.js';

export function defaultPromptsFile(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'eval', 'prompts.json');
}

export async function readPromptSet(path: string): Promise<PromptSet> {
  const j = JSON.parse(await readFile(path, 'utf8')) as Partial<PromptSet>;
  if (!Array.isArray(j.prompts) || j.prompts.length === 0) throw new Error(`${path}: "prompts" must list { prompt, attribute } objects`);
  return {
    identity_prompt: j.identity_prompt ?? 'a photo of a person',
    prompts: j.prompts.map((p) => ({ prompt: String(p.prompt), attribute: p.attribute ?? null })),
    neutral: j.neutral ?? ['a photo of a person'],
    consistency: j.consistency ?? [j.identity_prompt ?? 'a photo of a person'],
  };
}

type Inputs = Pick<EvalSetup, 'options' | 'log' | 'quick' | 'seed' | 'B' | 'characters' | 'outDir' | 'promptsFile' | 'set'>;

/** Options with their defaults, the output folder, and the prompt set. */
async function readInputs(o: EvalOptions): Promise<Inputs> {
  const quick = o.quick ?? false;
  const characters = o.characters ?? (quick ? 2 : 4);
  // consistency compares identities with each other: one alone has nothing to be told apart from
  if (!Number.isInteger(characters) || characters < 2) throw new Error(`characters must be an integer of at least 2 (got ${o.characters})`);
  const outDir = o.outDir ?? 'eval-out';
  await mkdir(outDir, { recursive: true });
  const promptsFile = o.promptsFile ?? defaultPromptsFile();
  const set = await readPromptSet(promptsFile);
  return { options: o, log: o.log ?? (() => {}), quick, seed: o.seed ?? 0, B: quick ? 200 : 1000, characters, outDir, promptsFile, set };
}

/** The networks: judges (evaluation + conditioning nets), the bundle's pipeline, the attribute classifier. */
async function loadNetworks(inputs: Inputs): Promise<EvalSetup> {
  const { options: o, log, quick } = inputs;
  log(`loading bundle and judges`);
  const judges = await Judges.create(o.evalNet === undefined ? 'faceres' : o.evalNet);
  const nets: Net[] = judges.evalNet ? ['eval', 'cond'] : ['cond'];
  const pipe = await createPipeline({ bundleDir: o.bundleDir, threads: o.threads, faceAnalyzer: judges.analyzer });
  const attrDir = o.attributeModelDir === undefined ? DEFAULT_ATTRIBUTE_MODEL_DIR : o.attributeModelDir;
  const { classifier, error: classifierError } = attrDir === null ? { classifier: null, error: 'disabled' } : await AttributeClassifier.tryLoad(attrDir);
  if (!classifier) log(`attribute classifier unavailable (${classifierError}): eyeglasses, hat, hair, beard prompts are not judged`);
  const m = pipe.bundle.manifest;
  return {
    ...inputs, judges, nets, pipe, classifier, classifierError,
    steps: o.steps ?? (quick ? Math.min(4, m.defaults.steps) : m.defaults.steps),
    faceScale: m.defaults.face_scale, textScale: m.defaults.text_scale, faceStart: defaultFaceStart(m.defaults, 'face'), faceStartRandom: defaultFaceStart(m.defaults, 'random'),
    guidanceRescale: m.defaults.guidance_rescale ?? 0,
  };
}

export async function runEval(o: EvalOptions): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  // prompt set and people first, so a bad prompts file or data folder fails before any network loads
  const inputs = await readInputs(o);
  const chosen = await chooseIdentities(o);
  const setup = await loadNetworks(inputs);
  const real = await measureRealPhotos(setup, chosen);
  const ctx = createContext(setup, real.people);
  const { identity, gens, sameDiff } = await measureIdentity(ctx);
  const identification = measureIdentification(ctx, gens);
  const ceiling = await measureCeiling(ctx, ceilingSizes(setup.pipe.bundle.manifest.image.resolution));
  const fidelity = await measurePromptFidelity(ctx);
  const tradeoff = await measureTradeoff(ctx, sameDiff);
  const consistency = await measureConsistency(ctx);
  const bias = await measureBias(ctx);
  const speed = summarizeSpeed(ctx);
  const report = await writeOutputs(ctx, { real, perId: chosen.perId, identity, identification, identityItems: identityItems(ctx, gens), ceiling, fidelity, tradeoff, consistency, bias, speed }, t0);
  await setup.pipe.close();
  setup.judges.evalNet?.close();
  setup.classifier?.close();
  return report;
}
