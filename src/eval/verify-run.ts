// Verification accuracy of the conditioning embedder, with our alignment, on a CelebA-layout
// folder: the check that identity survives detection → alignment → embedding.
import { readCeleba } from '../data/sources/celeba.js';
import { mulberry32, shuffled } from '../data/random.js';
import { FaceAnalyzer } from '../face/analyzer.js';
import { FRAMINGS, type Framing } from '../face/align.js';
import { bestThreshold, cosine, kFoldAccuracy, makePairs } from './verification.js';

export interface VerifyOptions {
  dataDir: string;
  identities?: number;
  perIdentity?: number;
  seed?: number;
  framing?: Framing;
  onProgress?: (done: number, total: number) => void;
}

export interface VerifyResult {
  embedder: string;
  identities: number;
  images: number;
  noFace: number;
  pairs: number;
  accuracy: number;
  threshold: number;
  kFoldAccuracy: number;
  meanSame: number;
  meanDiff: number;
  msPerImage: number;
}

export async function runVerification(opts: VerifyOptions): Promise<VerifyResult> {
  const rand = mulberry32(opts.seed ?? 0);
  const records = await readCeleba(opts.dataDir);
  const byId = new Map<string, typeof records>();
  for (const r of records) if (r.identity) (byId.get(r.identity) ?? byId.set(r.identity, []).get(r.identity)!).push(r);
  const ids = shuffled([...byId.keys()].sort(), rand).slice(0, opts.identities ?? 40);
  const analyzer = await FaceAnalyzer.create({}, opts.framing ?? FRAMINGS.recognition);
  const groups = new Map<string, Float32Array[]>();
  const total = ids.length * (opts.perIdentity ?? 6);
  let done = 0, noFace = 0;
  const t0 = performance.now();
  for (const id of ids) {
    const embs: Float32Array[] = [];
    for (const r of shuffled(byId.get(id)!, rand).slice(0, opts.perIdentity ?? 6)) {
      try {
        embs.push((await analyzer.analyze(r.path)).embedding);
      } catch (err) {
        if ((err as { code?: string }).code !== 'no_face') throw err;
        noFace++;
      }
      done++;
      opts.onProgress?.(done, total);
    }
    if (embs.length >= 2) groups.set(id, embs);
  }
  const ms = (performance.now() - t0) / Math.max(1, done);
  const scored = makePairs(groups, opts.seed ?? 0).map((p) => ({ score: cosine(p.a, p.b), same: p.same }));
  const best = bestThreshold(scored);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  return {
    embedder: analyzer.embedderId,
    identities: groups.size,
    images: done - noFace,
    noFace,
    pairs: scored.length,
    accuracy: best.accuracy,
    threshold: best.threshold,
    kFoldAccuracy: kFoldAccuracy(scored, 10, opts.seed ?? 0),
    meanSame: mean(scored.filter((p) => p.same).map((p) => p.score)),
    meanDiff: mean(scored.filter((p) => !p.same).map((p) => p.score)),
    msPerImage: ms,
  };
}
