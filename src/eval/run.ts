// `face0 eval`: identity (S_same, S_diff, S_gen, G; evaluation network and conditioning network;
// base model as the zero line), face rate, prompt fidelity, text/identity trade-off grid,
// character consistency, bias decoupling and speed, on held-out people of a CelebA-layout folder.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCeleba, type CelebaRecord } from '../data/sources/celeba.js';
import { mulberry32, shuffled } from '../data/random.js';
import { sha256File } from '../model/bundle.js';
import { createPipeline, type Pipeline } from '../pipeline/generate.js';
import { Judges, JUDGED, ageGroup, type ImageJudgement } from './judges.js';
import { AttributeClassifier, CLASSIFIER_ONLY, CLASSIFIER_SIZE, DEFAULT_ATTRIBUTE_MODEL_DIR, DERIVED, classifierAccuracy, rgbToChw, type AttributeLogits, type ClassifierAccuracy } from './attributes.js';
import { bootstrapCI, gapClosure, identityMetrics, mean, meanWithCI, sGen, type IdentityEmbeddings, type IdentityMetrics, type Interval } from './metrics.js';
import { cosine } from './verification.js';
import { renderGrid, renderTradeoffPlot } from './render.js';
import { writeReportMd } from './report.js';

export interface PromptSpec { prompt: string; attribute: string | null }
export interface PromptSet { identity_prompt: string; prompts: PromptSpec[]; neutral: string[]; consistency: string[] }

export interface EvalOptions {
  bundleDir: string;
  dataDir: string;
  holdoutFile?: string;
  identities?: number;
  perIdentity?: number;
  promptsFile?: string;
  outDir?: string;
  seed?: number;
  steps?: number;
  quick?: boolean;
  threads?: number;
  /** 'faceres' (default) or null for the conditioning network only */
  evalNet?: string | null;
  /** attribute classifier folder (attributes.onnx + attributes.json); default models/attributes; null: none */
  attributeModelDir?: string | null;
  command?: string;
  log?: (msg: string) => void;
}

const NETS = ['eval', 'cond'] as const;
type Net = (typeof NETS)[number];

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

export async function readHoldout(path: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const line of (await readFile(path, 'utf8')).split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [src, id] = t.includes(':') ? t.split(':', 2) : ['celeba', t];
    if (src === 'celeba') ids.add(id);
  }
  return ids;
}

interface Person {
  id: string;
  photos: CelebaRecord[];
  judged: ImageJudgement[];
  /** attribute classifier logits per photo (null: no face found, or no classifier) */
  cls: (AttributeLogits | null)[];
  source: number;
}

interface GenRecord { png: Buffer; j: ImageJudgement; cls: AttributeLogits | null; msPerImage: number; msPerEval: number; faceOn: boolean }

const round = (x: number | null | undefined, d = 4): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const ci = (c: Interval | null) => (c ? { lo: round(c.lo), hi: round(c.hi), n: c.n } : null);

export async function runEval(o: EvalOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const quick = o.quick ?? false;
  const seed = o.seed ?? 0;
  const B = quick ? 200 : 1000;
  const outDir = o.outDir ?? 'eval-out';
  await mkdir(outDir, { recursive: true });
  const promptsFile = o.promptsFile ?? defaultPromptsFile();
  const set = await readPromptSet(promptsFile);

  // --- people ---------------------------------------------------------------------------------
  const records = await readCeleba(o.dataDir);
  const hold = o.holdoutFile ? await readHoldout(o.holdoutFile) : null;
  const byId = new Map<string, CelebaRecord[]>();
  for (const r of records) if (r.identity && (!hold || hold.has(r.identity))) (byId.get(r.identity) ?? byId.set(r.identity, []).get(r.identity)!).push(r);
  const rand = mulberry32(seed);
  const nIds = o.identities ?? (quick ? 2 : 6);
  const perId = Math.max(2, o.perIdentity ?? (quick ? 2 : 4));
  const ids = shuffled([...byId.keys()].filter((k) => byId.get(k)!.length >= 2).sort(), rand).slice(0, nIds);
  if (ids.length < 2) throw new Error(`${o.dataDir}: need at least two identities with two photos${hold ? ' among the held-out people' : ''}, found ${ids.length}`);

  log(`loading bundle and judges`);
  const judges = await Judges.create(o.evalNet === undefined ? 'faceres' : o.evalNet);
  const nets: Net[] = judges.evalNet ? ['eval', 'cond'] : ['cond'];
  const pipe: Pipeline = await createPipeline({ bundleDir: o.bundleDir, threads: o.threads, faceAnalyzer: judges.analyzer });
  const attrDir = o.attributeModelDir === undefined ? DEFAULT_ATTRIBUTE_MODEL_DIR : o.attributeModelDir;
  const { classifier, error: classifierError } = attrDir === null ? { classifier: null, error: 'disabled' } : await AttributeClassifier.tryLoad(attrDir);
  if (!classifier) log(`attribute classifier unavailable (${classifierError}): eyeglasses, hat, hair, beard prompts are not judged`);
  const m = pipe.bundle.manifest;
  const steps = o.steps ?? (quick ? Math.min(4, m.defaults.steps) : m.defaults.steps);
  const dFace = m.defaults.face_scale, dText = m.defaults.text_scale;

  // --- real photos ------------------------------------------------------------------------------
  log(`judging ${ids.length} x ${perId} real photos`);
  const people: Person[] = [];
  for (const id of ids) {
    const photos = shuffled(byId.get(id)!, rand).slice(0, perId);
    const judged: ImageJudgement[] = [];
    const cls: (AttributeLogits | null)[] = [];
    for (const p of photos) {
      const img = await judges.decode(p.path);
      const j = await judges.judge(img);
      judged.push(j);
      // same first face as judge(): aligned like the training crops
      const face = classifier && j.face ? (await judges.analyzer.detect(img))[0] : undefined;
      cls.push(classifier && face ? await classifier.classifyFace(img, face.landmarks5) : null);
    }
    const source = judged.findIndex((j) => j.face);
    if (source < 0) continue;
    people.push({ id, photos, judged, cls, source });
  }
  if (people.length < 2) throw new Error('fewer than two people with a detectable face in their photos');
  const realFaceRate = mean(people.flatMap((p) => p.judged.map((j) => (j.face ? 1 : 0))));

  // judge accuracy on real held-out photos (CelebA labels)
  const judgeAcc: Record<string, { accuracy: number | null; n: number }> = {};
  for (const [attr, label] of [['Smiling', 'Smiling'], ['Male', 'Male'], ['Young', 'Young']] as const) {
    const xs: number[] = [];
    for (const p of people) p.judged.forEach((j, i) => {
      const truth = p.photos[i].attributes[label];
      if (j.attrs && truth !== undefined) xs.push(JUDGED[attr](j.attrs) === truth ? 1 : 0);
    });
    judgeAcc[attr] = { accuracy: round(mean(xs), 3), n: xs.length };
  }
  // the attribute classifier on the same real held-out photos (it never saw these people)
  const classifierAcc: Record<string, ClassifierAccuracy> = {};
  if (classifier) {
    for (const attr of classifier.attributes) {
      const pairs: { pred: boolean; truth: boolean }[] = [];
      for (const p of people) p.cls.forEach((c, i) => {
        const truth = p.photos[i].attributes[attr];
        if (c && truth !== undefined) pairs.push({ pred: classifier.decide(c, attr)!, truth });
      });
      classifierAcc[attr] = classifierAccuracy(pairs);
    }
  }

  // --- generation helper -------------------------------------------------------------------------
  const speed = { face: [] as number[], base: [] as number[], faceEval: [] as number[], baseEval: [] as number[] };
  let maxRss = process.memoryUsage().rss;
  const gen = async (opts: { embedding?: Float32Array; randomIdentity?: number; prompt: string; faceScale: number; textScale?: number; seed: number; count?: number }): Promise<GenRecord[]> => {
    const faceOn = opts.faceScale > 0 && (opts.embedding !== undefined || opts.randomIdentity !== undefined);
    const r = await pipe.generate({
      prompt: opts.prompt,
      embedding: opts.embedding,
      embeddingEmbedder: opts.embedding ? judges.analyzer.embedderId : undefined,
      randomIdentity: opts.randomIdentity,
      faceScale: opts.faceScale,
      textScale: opts.textScale ?? dText,
      steps,
      seed: opts.seed,
      count: opts.count ?? 1,
    });
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    const ms = r.metadata.timings.total_ms / r.metadata.count;
    const msEval = r.metadata.timings.sampling_ms / Math.max(1, r.metadata.unet_evals);
    (faceOn ? speed.face : speed.base).push(ms);
    (faceOn ? speed.faceEval : speed.baseEval).push(msEval);
    const out: GenRecord[] = [];
    for (const im of r.images) {
      // x0 in [-1, 1] at 64x64 goes in as is; any other bundle size/range: its PNG resized to 64x64
      const direct = im.pixels && im.pixels.length === 3 * CLASSIFIER_SIZE * CLASSIFIER_SIZE && m.image.pixel_range[0] === -1 && m.image.pixel_range[1] === 1;
      const cls = classifier ? (await classifier.classifyPixels([direct ? im.pixels! : rgbToChw(await Judges.upscale(im.png, CLASSIFIER_SIZE))]))[0] : null;
      out.push({ png: im.png, j: await judges.judge(await Judges.upscale(im.png)), cls, msPerImage: ms, msPerEval: msEval, faceOn });
    }
    return out;
  };
  const emb = (p: Person) => p.judged[p.source].cond!;

  // --- identity ----------------------------------------------------------------------------------
  const perGen = quick ? 1 : 2;
  log(`identity: ${people.length} people x ${perGen} images, face on and base`);
  const idGens = new Map<string, { face: GenRecord[]; base: GenRecord[] }>();
  for (const [k, p] of people.entries()) {
    const s = seed + 100 * k;
    idGens.set(p.id, {
      face: await gen({ embedding: emb(p), prompt: set.identity_prompt, faceScale: dFace, seed: s, count: perGen }),
      base: await gen({ embedding: emb(p), prompt: set.identity_prompt, faceScale: 0, seed: s, count: perGen }),
    });
  }
  const embeddingsFor = (net: Net, which: (p: Person) => GenRecord[]): IdentityEmbeddings[] =>
    people.map((p) => ({ id: p.id, real: p.judged.map((j) => j[net]), gen: which(p).map((g) => ({ source: p.source, embedding: g.j[net] })) }));
  const identity: Record<string, { face: IdentityMetrics & { G_ci: unknown; s_gen_ci: unknown }; base: IdentityMetrics & { G_ci: unknown; s_gen_ci: unknown } }> = {};
  for (const net of nets) {
    const res: Record<string, IdentityMetrics & { G_ci: unknown; s_gen_ci: unknown }> = {};
    for (const side of ['face', 'base'] as const) {
      const e = embeddingsFor(net, (p) => idGens.get(p.id)![side]);
      const mtr = identityMetrics(e);
      res[side] = {
        ...mtr,
        s_same: round(mtr.s_same), s_diff: round(mtr.s_diff), s_gen: round(mtr.s_gen), G: round(mtr.G), face_rate: round(mtr.face_rate, 3),
        G_ci: ci(bootstrapCI(e, (s) => gapClosure(sGen(s), mtr.s_same, mtr.s_diff), { B, seed })),
        s_gen_ci: ci(bootstrapCI(e, (s) => sGen(s), { B, seed })),
      };
    }
    identity[net] = res as (typeof identity)[string];
  }
  const sameDiff = Object.fromEntries(nets.map((net) => [net, identity[net].face])) as unknown as Record<Net, IdentityMetrics>;

  // --- prompt fidelity ---------------------------------------------------------------------------
  const prompts = quick ? set.prompts.slice(0, 2) : set.prompts;
  const fidPeople = people.slice(0, quick ? 2 : Math.min(people.length, 4));
  log(`prompt fidelity: ${prompts.length} prompts x ${fidPeople.length} people, face on and base`);
  // judge per prompt: face-api's nets where they can (Smiling, Young/Old, Male/Female), the attribute
  // classifier for the rest; the classifier also scores the face-api attributes (second opinion)
  const judgeOf = (attr: string | null): 'face-api' | 'classifier' | null =>
    !attr ? null : JUDGED[attr] ? 'face-api' : classifier?.has(attr) ? 'classifier' : null;
  const fid: { prompt: string; attribute: string | null; judge: 'face-api' | 'classifier' | null; face: number[]; base: number[]; clsFace: number[]; clsBase: number[]; face_rate: number[] }[] = [];
  const grid: { ref: Person; cells: { prompt: string; face: Buffer; base: Buffer }[] }[] = fidPeople.map((p) => ({ ref: p, cells: [] }));
  for (const [pi, ps] of prompts.entries()) {
    const judge = judgeOf(ps.attribute);
    const attr = ps.attribute;
    const clsHas = !!(classifier && attr && classifier.has(attr));
    const row = { prompt: ps.prompt, attribute: attr, judge, face: [] as number[], base: [] as number[], clsFace: [] as number[], clsBase: [] as number[], face_rate: [] as number[] };
    // like the face-api rows, an image without a detected face counts as a miss (the classifier's
    // output on a non-face image means nothing)
    const byClassifier = (g: GenRecord) => (g.j.face && g.cls && classifier!.decide(g.cls, attr!) ? 1 : 0);
    for (const [k, p] of fidPeople.entries()) {
      const s = seed + 1000 + 10 * pi + k;
      const [f] = await gen({ embedding: emb(p), prompt: ps.prompt, faceScale: dFace, seed: s });
      const [b] = await gen({ embedding: emb(p), prompt: ps.prompt, faceScale: 0, seed: s });
      row.face_rate.push(f.j.face ? 1 : 0);
      if (judge === 'face-api') {
        const jf = JUDGED[attr!];
        row.face.push(f.j.attrs && jf(f.j.attrs) ? 1 : 0);
        row.base.push(b.j.attrs && jf(b.j.attrs) ? 1 : 0);
      } else if (judge === 'classifier') {
        row.face.push(byClassifier(f));
        row.base.push(byClassifier(b));
      }
      if (clsHas) {
        row.clsFace.push(byClassifier(f));
        row.clsBase.push(byClassifier(b));
      }
      grid[k].cells.push({ prompt: ps.prompt, face: f.png, base: b.png });
    }
    fid.push(row);
  }
  const fidelity = fid.map((r) => {
    const judged = r.judge !== null;
    const secondOpinion = r.judge === 'face-api' && r.clsFace.length > 0;
    return {
      prompt: r.prompt,
      attribute: r.attribute,
      classifier: r.judge === 'face-api' ? 'face-api age/gender + expression nets' : r.judge === 'classifier' ? 'attribute classifier (models/attributes)' : null,
      note: r.attribute && !judged ? (classifier ? `the attribute classifier has no output for ${r.attribute}` : `no classifier: attribute classifier unavailable (${classifierError})`) : null,
      fidelity_face: judged ? round(mean(r.face), 3) : null,
      fidelity_face_ci: judged ? ci(bootstrapCI(r.face, (s) => mean(s), { B, seed })) : null,
      fidelity_base: judged ? round(mean(r.base), 3) : null,
      classifier_fidelity_face: secondOpinion ? round(mean(r.clsFace), 3) : null,
      classifier_fidelity_base: secondOpinion ? round(mean(r.clsBase), 3) : null,
      face_rate: round(mean(r.face_rate), 3),
      n: r.face_rate.length,
    };
  });
  const judgedRows = fid.filter((r) => r.judge !== null);
  const fidelityOverall = judgedRows.length ? round(mean(judgedRows.flatMap((r) => r.face)), 3) : null;

  // --- trade-off grid ----------------------------------------------------------------------------
  const faceScales = quick ? [0, dFace] : [0, 1, dFace, 2 * dFace].filter((v, i, a) => a.indexOf(v) === i).sort((a, b) => a - b);
  const textScales = quick ? [dText] : [1.5, dText, 2 * dText].filter((v, i, a) => a.indexOf(v) === i).sort((a, b) => a - b);
  const gridPeople = people.slice(0, quick ? 2 : Math.min(3, people.length));
  const gridPrompts = set.prompts.filter((p) => p.attribute && JUDGED[p.attribute]).slice(0, quick ? 1 : 2);
  log(`trade-off grid: ${faceScales.length} face x ${textScales.length} text scales`);
  const tradeoff: { face_scale: number; text_scale: number; G: Record<string, number | null>; fidelity: number | null; face_rate: number | null }[] = [];
  for (const fs of faceScales) {
    for (const ts of textScales) {
      const gens = new Map<string, GenRecord[]>();
      const hits: number[] = [], faces: number[] = [];
      for (const [k, p] of gridPeople.entries()) {
        const g = await gen({ embedding: emb(p), prompt: set.identity_prompt, faceScale: fs, textScale: ts, seed: seed + 5000 + k });
        gens.set(p.id, g);
        faces.push(g[0].j.face ? 1 : 0);
        for (const [qi, q] of gridPrompts.entries()) {
          const [f] = await gen({ embedding: emb(p), prompt: q.prompt, faceScale: fs, textScale: ts, seed: seed + 6000 + 10 * qi + k });
          hits.push(f.j.attrs && JUDGED[q.attribute!](f.j.attrs) ? 1 : 0);
          faces.push(f.j.face ? 1 : 0);
        }
      }
      const G: Record<string, number | null> = {};
      for (const net of nets) {
        const e = embeddingsFor(net, (p) => gens.get(p.id) ?? []).filter((x) => x.gen.length > 0);
        G[net] = round(gapClosure(sGen(e), sameDiff[net].s_same, sameDiff[net].s_diff), 3);
      }
      tradeoff.push({ face_scale: fs, text_scale: ts, G, fidelity: round(mean(hits), 3), face_rate: round(mean(faces), 3) });
    }
  }

  // --- character consistency ---------------------------------------------------------------------
  const cSeeds = quick ? 2 : 4;
  const cPrompts = quick ? set.consistency.slice(0, 2) : set.consistency;
  log(`consistency: ${cSeeds} random identities x ${cPrompts.length} prompts`);
  const cons: ImageJudgement[][] = [];
  for (let r = 0; r < cSeeds; r++) {
    const row: ImageJudgement[] = [];
    for (const [pi, q] of cPrompts.entries()) row.push((await gen({ randomIdentity: seed + 7000 + r, prompt: q, faceScale: dFace, seed: seed + 8000 + pi }))[0].j);
    cons.push(row);
  }
  const consistency: Record<string, unknown> = {};
  for (const net of nets) {
    const within: number[] = [], across: number[] = [];
    for (let r = 0; r < cons.length; r++) {
      const xs: number[] = [];
      for (let a = 0; a < cons[r].length; a++) for (let b = a + 1; b < cons[r].length; b++) {
        const ea = cons[r][a][net], eb = cons[r][b][net];
        if (ea && eb) xs.push(cosine(ea, eb));
      }
      const mm = mean(xs);
      if (mm !== null) within.push(mm);
      for (let r2 = r + 1; r2 < cons.length; r2++) for (let a = 0; a < cons[r].length; a++) {
        const ea = cons[r][a][net], eb = cons[r2][a][net];
        if (ea && eb) across.push(cosine(ea, eb));
      }
    }
    const w = meanWithCI(within, { B, seed }), x = meanWithCI(across, { B, seed });
    consistency[net] = { same_seed_across_prompts: round(w.mean), same_seed_ci: ci(w.ci), across_seeds_same_prompt: round(x.mean), across_seeds_ci: ci(x.ci), seeds: cons.length, prompts: cPrompts.length };
  }

  // --- bias decoupling ---------------------------------------------------------------------------
  const neutral = quick ? set.neutral.slice(0, 1) : set.neutral;
  log(`bias: ${neutral.length} neutral prompts x ${people.length} people, face on and off`);
  const bias = { gender_follow_face: [] as number[], gender_follow_base: [] as number[], age_follow_face: [] as number[], age_follow_base: [] as number[], base_male: [] as number[], face_male: [] as number[], ref_male: [] as number[] };
  for (const [k, p] of people.entries()) {
    const ref = p.judged[p.source].attrs;
    if (!ref) continue;
    bias.ref_male.push(ref.male ? 1 : 0);
    for (const [qi, q] of neutral.entries()) {
      const s = seed + 9000 + 10 * qi + k;
      const [f] = await gen({ embedding: emb(p), prompt: q, faceScale: dFace, seed: s });
      const [b] = await gen({ embedding: emb(p), prompt: q, faceScale: 0, seed: s });
      if (f.j.attrs) {
        bias.gender_follow_face.push(f.j.attrs.male === ref.male ? 1 : 0);
        bias.age_follow_face.push(ageGroup(f.j.attrs.age) === ageGroup(ref.age) ? 1 : 0);
        bias.face_male.push(f.j.attrs.male ? 1 : 0);
      }
      if (b.j.attrs) {
        bias.gender_follow_base.push(b.j.attrs.male === ref.male ? 1 : 0);
        bias.age_follow_base.push(ageGroup(b.j.attrs.age) === ageGroup(ref.age) ? 1 : 0);
        bias.base_male.push(b.j.attrs.male ? 1 : 0);
      }
    }
  }
  const mci = (xs: number[]) => { const r = meanWithCI(xs, { B, seed }); return { rate: round(r.mean, 3), ci: ci(r.ci), n: r.n }; };
  const biasOut = {
    judge: 'face-api age/gender net (age groups <30, 30-45, 45+)',
    gender_follows_reference_face_on: mci(bias.gender_follow_face),
    gender_follows_reference_face_off: mci(bias.gender_follow_base),
    age_group_follows_reference_face_on: mci(bias.age_follow_face),
    age_group_follows_reference_face_off: mci(bias.age_follow_base),
    male_share_reference: round(mean(bias.ref_male), 3),
    male_share_face_on: round(mean(bias.face_male), 3),
    male_share_face_off: round(mean(bias.base_male), 3),
  };

  // --- speed ---------------------------------------------------------------------------------------
  const sp = (xs: number[]) => { const r = meanWithCI(xs.map((x) => x / 1000), { B, seed }); return { mean: round(r.mean), ci: ci(r.ci), n: r.n }; };
  const speedOut = {
    seconds_per_image_face: sp(speed.face),
    seconds_per_image_base: sp(speed.base),
    seconds_per_unet_eval_face: sp(speed.faceEval),
    seconds_per_unet_eval_base: sp(speed.baseEval),
    ratio_face_over_base: round((mean(speed.face) ?? NaN) / (mean(speed.base) ?? NaN), 3),
    peak_rss_mb: Math.round(maxRss / 2 ** 20),
    threads: pipe.sessions.threads,
    steps,
    note: 'per-image time of a generate() call (includes sampling, text/face encoding, PNG); face on = 3 UNet branches, base = 2',
  };

  // --- outputs ---------------------------------------------------------------------------------------
  const gridPng = await renderGrid(grid.map((g) => ({ refPath: g.ref.photos[g.ref.source].path, cells: g.cells })));
  await writeFile(join(outDir, 'grid.png'), gridPng);
  const plotPng = await renderTradeoffPlot(tradeoff.map((t) => ({ face_scale: t.face_scale, text_scale: t.text_scale, G: t.G[nets[0]], fidelity: t.fidelity })), nets[0] === 'eval' ? 'G (evaluation net)' : 'G (conditioning net)');
  await writeFile(join(outDir, 'tradeoff.png'), plotPng);

  const manifestPath = join(o.bundleDir, 'manifest.json');
  const unetPath = join(o.bundleDir, m.files.unet.path);
  const report = {
    command: o.command ?? null,
    created: new Date().toISOString(),
    bundle: { dir: resolve(o.bundleDir), name: m.name, manifest_sha256: await sha256File(manifestPath), unet_sha256: existsSync(unetPath) ? await sha256File(unetPath) : null },
    data: { dir: resolve(o.dataDir), holdout: o.holdoutFile ? resolve(o.holdoutFile) : null, identities: people.map((p) => p.id), per_identity: perId, real_photo_face_rate: round(realFaceRate, 3) },
    settings: { seed, steps, quick, face_scale: dFace, text_scale: dText, bootstrap: B, prompts_file: resolve(promptsFile), upscale_for_detection: 256 },
    networks: {
      eval: judges.evalNet ? { id: judges.evalNet.id, credit: judges.evalNet.spec.credit, independent_of_conditioning: true } : null,
      eval_unavailable: judges.evalNet ? null : judges.evalNetError,
      cond: { id: judges.analyzer.embedderId, note: 'the conditioning network: scores with it are inflated' },
      attribute_judge: 'face-api ageGenderNet + faceExpressionNet (not used in generation)',
      attribute_classifier: classifier
        ? { dir: resolve(classifier.dir), onnx_sha256: await sha256File(join(classifier.dir, 'attributes.onnx')), attributes: classifier.attributes, derived: Object.keys(DERIVED), judges: CLASSIFIER_ONLY.filter((a) => classifier.has(a)), note: 'small CNN trained on the CelebA training crops (held-out people excluded), not used in generation; judges generated 64px images directly (an image without a detected face counts as a miss) and real photos aligned like the training crops', validation: classifier.info.validation?.per_attribute ?? null }
        : { unavailable: classifierError },
    },
    identity,
    judge_accuracy_real: judgeAcc,
    classifier_accuracy_real: classifier ? classifierAcc : null,
    prompt_fidelity: { per_prompt: fidelity, overall_face_on: fidelityOverall, people: fidPeople.length },
    tradeoff,
    consistency,
    bias: biasOut,
    speed: speedOut,
    files: { report_md: 'report.md', grid: 'grid.png', tradeoff_plot: 'tradeoff.png' },
    seconds: round((performance.now() - t0) / 1000, 1),
  };
  await writeFile(join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFile(join(outDir, 'report.md'), writeReportMd(report));
  await pipe.close();
  judges.evalNet?.close();
  classifier?.close();
  return report;
}
