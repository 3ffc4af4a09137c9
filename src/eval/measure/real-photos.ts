// People and their real photos: which held-out people are measured, their photos judged once
// (face, embeddings with both networks, attributes), and how well the judges do on them.
import { readFile } from 'node:fs/promises';
import { readCeleba, type CelebaRecord } from '../../data/sources/celeba.js';
import { mulberry32, shuffled } from '../../data/random.js';
import { JUDGED, type ImageJudgement } from '../judges.js';
import { classifierAccuracy, type AttributeLogits, type ClassifierAccuracy } from '../attributes.js';
import { mean } from '../metrics.js';
import { round, type EvalOptions, type EvalSetup, type Person } from '../context.js';

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

export interface ChosenIdentities {
  byId: Map<string, CelebaRecord[]>;
  ids: string[];
  perId: number;
  /** the seeded stream the identities were drawn from; the photo draws continue it */
  rand: () => number;
}

/** Draws the people (seeded). Runs before any network loads, so a data folder that cannot work fails fast. */
export async function chooseIdentities(o: EvalOptions): Promise<ChosenIdentities> {
  const quick = o.quick ?? false;
  const records = await readCeleba(o.dataDir);
  const hold = o.holdoutFile ? await readHoldout(o.holdoutFile) : null;
  const byId = new Map<string, CelebaRecord[]>();
  for (const r of records) if (r.identity && (!hold || hold.has(r.identity))) (byId.get(r.identity) ?? byId.set(r.identity, []).get(r.identity)!).push(r);
  const rand = mulberry32(o.seed ?? 0);
  const nIds = o.identities ?? (quick ? 2 : 6);
  const perId = Math.max(2, o.perIdentity ?? (quick ? 2 : 4));
  const ids = shuffled([...byId.keys()].filter((k) => byId.get(k)!.length >= 2).sort(), rand).slice(0, nIds);
  if (ids.length < 2) throw new Error(`${o.dataDir}: need at least two identities with two photos${hold ? ' among the held-out people' : ''}, found ${ids.length}`);
  return { byId, ids, perId, rand };
}

export interface RealPhotos {
  people: Person[];
  realFaceRate: number | null;
  /** face-api judges against the CelebA labels of the real photos */
  judgeAcc: Record<string, { accuracy: number | null; n: number }>;
  /** the attribute classifier against the same labels; null without a classifier */
  classifierAcc: Record<string, ClassifierAccuracy> | null;
}

export async function measureRealPhotos(setup: EvalSetup, chosen: ChosenIdentities): Promise<RealPhotos> {
  const { judges, classifier, log } = setup;
  const { byId, ids, perId, rand } = chosen;
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
  let classifierAcc: Record<string, ClassifierAccuracy> | null = null;
  if (classifier) {
    classifierAcc = {};
    for (const attr of classifier.attributes) {
      const pairs: { pred: boolean; truth: boolean }[] = [];
      for (const p of people) p.cls.forEach((c, i) => {
        const truth = p.photos[i].attributes[attr];
        if (c && truth !== undefined) pairs.push({ pred: classifier.decide(c, attr)!, truth });
      });
      classifierAcc[attr] = classifierAccuracy(pairs);
    }
  }
  return { people, realFaceRate, judgeAcc, classifierAcc };
}
