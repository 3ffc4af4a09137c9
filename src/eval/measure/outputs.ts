// Outputs: grid.png, tradeoff.png, report.json (every figure, with the bundle's hashes and the
// settings that reproduce it) and report.md.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sha256File } from '../../model/bundle.js';
import { CLASSIFIER_ONLY, DERIVED } from '../attributes.js';
import { renderGrid, renderTradeoffPlot } from '../render.js';
import { writeReportMd } from '../report.js';
import { round, type EvalContext } from '../context.js';
import type { RealPhotos } from './real-photos.js';
import type { IdentitySection } from './identity.js';
import type { IdentificationSection } from './identification.js';
import type { CeilingSection } from './ceiling.js';
import type { FidelityItem, GridRow } from './fidelity.js';
import type { IdentityItem } from './items.js';
import type { TradeoffPoint } from './tradeoff.js';

export interface Measurements {
  real: RealPhotos;
  perId: number;
  identity: IdentitySection;
  identification: IdentificationSection;
  ceiling: CeilingSection;
  fidelity: { section: unknown; grid: GridRow[]; items: FidelityItem[] };
  identityItems: IdentityItem[];
  tradeoff: TradeoffPoint[];
  consistency: Record<string, unknown>;
  bias: unknown;
  speed: unknown;
}

/** Writes every output file and returns the report object; `t0`: the run's start (performance.now()). */
export async function writeOutputs(ctx: EvalContext, r: Measurements, t0: number): Promise<Record<string, unknown>> {
  const { options: o, outDir, nets, judges, classifier, classifierError, pipe, people } = ctx;
  const m = pipe.bundle.manifest;
  const gridPng = await renderGrid(r.fidelity.grid.map((g) => ({ refPath: g.ref.photos[g.ref.source].path, cells: g.cells })));
  await writeFile(join(outDir, 'grid.png'), gridPng);
  const plotPng = await renderTradeoffPlot(r.tradeoff.map((t) => ({ face_scale: t.face_scale, text_scale: t.text_scale, G: t.G[nets[0]], fidelity: t.fidelity })), nets[0] === 'eval' ? 'G (evaluation net)' : 'G (conditioning net)');
  await writeFile(join(outDir, 'tradeoff.png'), plotPng);

  const manifestPath = join(o.bundleDir, 'manifest.json');
  const unetPath = join(o.bundleDir, m.files.unet.path);
  const report = {
    command: o.command ?? null,
    created: new Date().toISOString(),
    bundle: { dir: resolve(o.bundleDir), name: m.name, manifest_sha256: await sha256File(manifestPath), unet_sha256: existsSync(unetPath) ? await sha256File(unetPath) : null },
    data: { dir: resolve(o.dataDir), holdout: o.holdoutFile ? resolve(o.holdoutFile) : null, identities: people.map((p) => p.id), per_identity: r.perId, real_photo_face_rate: round(r.real.realFaceRate, 3) },
    settings: { seed: ctx.seed, steps: ctx.steps, quick: ctx.quick, characters: ctx.characters, face_scale: ctx.faceScale, text_scale: ctx.textScale, face_start: ctx.faceStart, face_start_random: ctx.faceStartRandom, guidance_rescale: ctx.guidanceRescale, bootstrap: ctx.B, prompts_file: resolve(ctx.promptsFile), upscale_for_detection: 256 },
    networks: {
      eval: judges.evalNet ? { id: judges.evalNet.id, credit: judges.evalNet.spec.credit, independent_of_conditioning: true } : null,
      eval_unavailable: judges.evalNet ? null : judges.evalNetError,
      cond: { id: judges.analyzer.embedderId, note: 'the conditioning network: scores with it are inflated' },
      attribute_judge: 'face-api ageGenderNet + faceExpressionNet (not used in generation)',
      attribute_classifier: classifier
        ? { dir: resolve(classifier.dir), onnx_sha256: await sha256File(join(classifier.dir, 'attributes.onnx')), attributes: classifier.attributes, derived: Object.keys(DERIVED), judges: CLASSIFIER_ONLY.filter((a) => classifier.has(a)), note: 'small CNN trained on the CelebA training crops (held-out people excluded), not used in generation; judges generated 64px images directly (an image without a detected face counts as a miss) and real photos aligned like the training crops', validation: classifier.info.validation?.per_attribute ?? null }
        : { unavailable: classifierError },
    },
    identity: r.identity,
    identification: r.identification,
    ceiling: r.ceiling,
    judge_accuracy_real: r.real.judgeAcc,
    classifier_accuracy_real: r.real.classifierAcc,
    prompt_fidelity: r.fidelity.section,
    tradeoff: r.tradeoff,
    consistency: r.consistency,
    bias: r.bias,
    speed: r.speed,
    // per image, for pairing two bundles' evals of the same seed (`face0 eval-compare`)
    items: { identity: r.identityItems, fidelity: r.fidelity.items },
    files: { report_md: 'report.md', grid: 'grid.png', tradeoff_plot: 'tradeoff.png' },
    seconds: round((performance.now() - t0) / 1000, 1),
  };
  await writeFile(join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFile(join(outDir, 'report.md'), writeReportMd(report));
  return report;
}
