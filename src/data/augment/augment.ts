// `face0 augment`: sources → face pipeline (worker threads) → WebDataset shards + manifest.
//
// Resume without duplicates or losses: every input has a fixed position in the run (sources in
// order, items in order). Results are consumed strictly in that order, so when shard k is
// renamed into place, *every* input before the last one it covers is accounted for (written or
// dropped). The manifest is then replaced atomically with `nextItem` and the counters at that
// point. After a crash (even `kill -9`), a rerun deletes stray `.tmp` files and any shard the
// manifest does not list, and restarts at `nextItem`. Captions are seeded by key, so the redone
// work is byte-identical.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { FRAMINGS } from '../../face/align.js';
import { embedderId, FaceAnalyzer } from '../../face/analyzer.js';
import { CAPTION_STYLES, captionVariantsFor, type CaptionStyle } from '../captions.js';
import { hashString } from '../random.js';
import { holdoutShardName, shardName, writeShard, type Sample } from '../shards.js';
import type { Source, SourceItem } from '../sources/types.js';
import { chooseHoldout, holdoutTag } from './holdout.js';
import { processImage, type ProcessOptions, type ProcessResult } from './process.js';

export interface AugmentOptions {
  sources: Source[];
  out: string;
  size?: number;
  minFace?: number;
  shardSize?: number;
  holdoutIdentities?: number;
  seed?: number;
  shardIndex?: number;
  shardCount?: number;
  /** Worker threads; 0 runs in this thread (tests, debugging). Default: one per core. */
  threads?: number;
  /** Stop after this many inputs (smoke runs). */
  limit?: number;
  jpegQuality?: number;
  /** Captions written per image: KEY.txt and, when more than 1, the list in meta `captions` (KEY.txt
   *  first) that the trainer may draw from each time the image comes round. Default 8. */
  captionVariants?: number;
  /** What a CelebA caption names: "random" (default) or "salient" (captions.ts CaptionStyle). */
  captionStyle?: CaptionStyle;
  onProgress?: (p: AugmentProgress) => void;
}

export interface AugmentProgress { done: number; total: number | null; kept: number; dropped: number; shards: number }

export interface AugmentManifest {
  format: 'face0-augment';
  version: 1;
  settings: { sources: { name: string; root: string }[]; size: number; minFace: number; jpegQuality: number; shardSize: number; holdoutIdentities: number; seed: number; shardIndex: number; shardCount: number; limit: number | null; embedder: string; framing: string; holdoutShards: boolean; captionVariants: number; captionStyle: CaptionStyle };
  complete: boolean;
  nextItem: number;
  shards: { name: string; samples: number; firstItem: number; endItem: number }[];
  /** The held-out people's samples (`holdout-*.tar`): for validation losses only; the trainer refuses to open them. */
  holdoutShards: { name: string; samples: number }[];
  counts: { inputs: number; kept: number; heldOut: number; otherPart: number; dropped: Record<string, number> };
  perSource: Record<string, { inputs: number; kept: number; dropped: number; heldOut: number; skippedBeforeDetection: Record<string, number> }>;
  seconds: number;
}

const MANIFEST = 'manifest.json';

export async function runAugment(opts: AugmentOptions): Promise<AugmentManifest> {
  const size = opts.size ?? 64;
  const shardSize = opts.shardSize ?? 1000;
  const seed = opts.seed ?? 0;
  const shardIndex = opts.shardIndex ?? 0;
  const shardCount = opts.shardCount ?? 1;
  if (!(shardCount >= 1 && shardIndex >= 0 && shardIndex < shardCount)) throw new Error(`--shard-index must be in [0, ${shardCount})`);
  if (!(size >= 16 && size <= 1024)) throw new Error('--size must be in [16, 1024]');
  if (!(shardSize >= 1)) throw new Error('--shard-size must be ≥ 1');
  const procOpts: ProcessOptions = { size, minFace: opts.minFace ?? 40, jpegQuality: opts.jpegQuality ?? 95 };
  if (!(procOpts.jpegQuality >= 1 && procOpts.jpegQuality <= 100)) throw new Error('--jpeg-quality must be in [1, 100]');
  const captionVariants = opts.captionVariants ?? 8;
  if (!(Number.isInteger(captionVariants) && captionVariants >= 1 && captionVariants <= 64)) throw new Error('--caption-variants must be an integer in [1, 64]');
  const captionStyle = opts.captionStyle ?? 'random';
  if (!CAPTION_STYLES.includes(captionStyle)) throw new Error(`--caption-style must be one of ${CAPTION_STYLES.join(', ')}`);
  const settings: AugmentManifest['settings'] = {
    sources: opts.sources.map((s) => ({ name: s.name, root: s.root })),
    size, minFace: procOpts.minFace, jpegQuality: procOpts.jpegQuality, shardSize, holdoutIdentities: opts.holdoutIdentities ?? 0, seed, shardIndex, shardCount,
    limit: opts.limit ?? null, embedder: embedderId(), framing: JSON.stringify({ ...FRAMINGS.portrait, fit: 'inside' }), holdoutShards: true, captionVariants, captionStyle,
  };

  await mkdir(opts.out, { recursive: true });
  const manifest = await loadOrStart(opts.out, settings);
  await cleanStrays(opts.out, manifest);

  // Held-out people, from every source that lists its identities.
  const known: string[] = [];
  for (const s of opts.sources) if (s.identities) known.push(...(await s.identities()).map((id) => holdoutTag(s.name, id)));
  const holdout = new Set(chooseHoldout(known, settings.holdoutIdentities, seed));
  await writeFile(join(opts.out, 'holdout.txt'), [...holdout].join('\n') + (holdout.size ? '\n' : ''));

  let total: number | null = 0;
  for (const s of opts.sources) total = s.estimate && total !== null ? total + (await s.estimate()) : null;
  if (total !== null && opts.limit) total = Math.min(total, opts.limit);

  const threads = opts.threads ?? cpus().length;
  const pool = threads > 0 ? new Piscina({ filename: workerFile(), minThreads: threads, maxThreads: threads, atomics: 'disabled' }) : null;
  // The face models load only where the work runs: in the workers, or here when threads = 0.
  const local = pool ? null : await FaceAnalyzer.create();
  const run = (bytes: Buffer, name: string): Promise<ProcessResult> =>
    pool ? pool.run({ bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), name, opts: procOpts }) : processImage(local!, bytes, name, procOpts);

  const started = performance.now() - manifest.seconds * 1000;
  const window = Math.max(4, threads * 4); // in-flight inputs: bounds memory
  // Skips go through the same ordered queue as real work, so every counter in a saved manifest
  // covers exactly the inputs before `nextItem`.
  const inflight: { index: number; item: SourceItem; heldOut: boolean; result: Promise<ProcessResult | 'otherPart'> }[] = [];
  let pending: Sample[] = [];
  let pendingHoldout: Sample[] = [];
  let pendingFirst = manifest.nextItem;
  let shardsWritten = manifest.shards.length;
  const progress = () => opts.onProgress?.({ done: manifest.counts.inputs, total, kept: manifest.counts.kept, dropped: sum(manifest.counts.dropped), shards: shardsWritten });

  const flush = async (endItem: number) => {
    // held-out samples are flushed with the training shard that closes their stretch of inputs, so
    // `nextItem` accounts for both
    if (pendingHoldout.length) {
      const name = holdoutShardName(manifest.holdoutShards.length * shardCount + shardIndex);
      await writeShard(join(opts.out, name), pendingHoldout);
      manifest.holdoutShards.push({ name, samples: pendingHoldout.length });
      pendingHoldout = [];
    }
    if (pending.length === 0) { manifest.nextItem = endItem; await saveManifest(opts.out, manifest); return; }
    const name = shardName(shardsWritten * shardCount + shardIndex); // parts of a split run never collide
    await writeShard(join(opts.out, name), pending);
    manifest.shards.push({ name, samples: pending.length, firstItem: pendingFirst, endItem });
    manifest.nextItem = endItem;
    manifest.seconds = (performance.now() - started) / 1000;
    await saveManifest(opts.out, manifest);
    shardsWritten++;
    pending = [];
    pendingFirst = endItem;
  };

  const consume = async () => {
    const { index, item, heldOut, result } = inflight.shift()!;
    const r = await result;
    const per = perSource(manifest, item.source);
    if (r === 'otherPart') manifest.counts.otherPart++;
    else if (heldOut) {
      manifest.counts.heldOut++; per.heldOut++;
      if (r.ok) pendingHoldout.push(toSample(item, r, size, seed, captionVariants, captionStyle));
    } else {
      manifest.counts.inputs++; per.inputs++;
      if (r.ok) {
        manifest.counts.kept++; per.kept++;
        pending.push(toSample(item, r, size, seed, captionVariants, captionStyle));
      } else {
        manifest.counts.dropped[r.reason] = (manifest.counts.dropped[r.reason] ?? 0) + 1; per.dropped++;
      }
    }
    if (pending.length >= shardSize) await flush(index + 1);
    progress();
  };

  let index = -1;
  try {
    outer: for (const source of opts.sources) {
      for await (const item of source.items()) {
        index++;
        if (opts.limit !== undefined && index >= opts.limit) break outer;
        if (index < manifest.nextItem) continue; // done in an earlier run
        const otherPart = shardCount > 1 && hashString(item.key) % shardCount !== shardIndex;
        const heldOut = !!item.identity && holdout.has(holdoutTag(item.source, item.identity));
        inflight.push({ index, item, heldOut, result: otherPart ? Promise.resolve('otherPart' as const) : item.load().then((bytes) => run(bytes, `${item.source}/${item.file}`)) });
        // A rejected promise waiting in the window must not count as unhandled; consume() rethrows it.
        inflight[inflight.length - 1].result.catch(() => undefined);
        if (inflight.length >= window) await consume();
      }
    }
    while (inflight.length) await consume();
    await flush(index + 1);
    for (const s of opts.sources) perSource(manifest, s.name).skippedBeforeDetection = { ...s.skipped };
    manifest.complete = true;
    manifest.seconds = (performance.now() - started) / 1000;
    await saveManifest(opts.out, manifest);
    progress();
    return manifest;
  } finally {
    await pool?.destroy();
  }
}

function toSample(item: SourceItem, r: Extract<ProcessResult, { ok: true }>, size: number, seed: number, variants: number, style: CaptionStyle): Sample {
  const captions = captionVariantsFor(item, seed, variants, style);
  return {
    key: item.key,
    jpg: Buffer.from(r.jpg.buffer, r.jpg.byteOffset, r.jpg.byteLength),
    caption: captions[0],
    embedding: r.embedding,
    meta: { source: item.source, file: item.file, identity: item.identity, attributes: item.attributes, score: r.score, box: r.box, landmarks5: r.landmarks5, faces: r.faces, size, embedder: r.embedder, framing: r.framing, ...(captions.length > 1 ? { captions } : {}) },
  };
}

function perSource(m: AugmentManifest, source: string) {
  return (m.perSource[source] ??= { inputs: 0, kept: 0, dropped: 0, heldOut: 0, skippedBeforeDetection: {} });
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

async function loadOrStart(out: string, settings: AugmentManifest['settings']): Promise<AugmentManifest> {
  const path = join(out, MANIFEST);
  if (existsSync(path)) {
    const m = JSON.parse(await readFile(path, 'utf8')) as AugmentManifest;
    if (JSON.stringify(m.settings) !== JSON.stringify(settings)) {
      throw new Error(`${out} holds a run with other settings (${JSON.stringify(m.settings)}); use another --out or delete it`);
    }
    m.complete = false;
    return m;
  }
  const entries = existsSync(out) ? (await readdir(out)).filter((f) => f.startsWith('shard-')) : [];
  if (entries.length) throw new Error(`${out} has shards but no ${MANIFEST}; refusing to mix runs`);
  return { format: 'face0-augment', version: 1, settings, complete: false, nextItem: 0, shards: [], holdoutShards: [], counts: { inputs: 0, kept: 0, heldOut: 0, otherPart: 0, dropped: {} }, perSource: {}, seconds: 0 };
}

/** Removes `.tmp` leftovers and shards renamed after the last manifest write. */
async function cleanStrays(out: string, m: AugmentManifest): Promise<void> {
  const listed = new Set([...m.shards, ...m.holdoutShards].map((s) => s.name));
  for (const f of await readdir(out)) {
    if (f.endsWith('.tmp') || (/^(shard|holdout)-/.test(f) && f.endsWith('.tar') && !listed.has(f))) await unlink(join(out, f));
  }
}

async function saveManifest(out: string, m: AugmentManifest): Promise<void> {
  const tmp = join(out, `${MANIFEST}.tmp`);
  await writeFile(tmp, JSON.stringify(m, null, 2));
  await rename(tmp, join(out, MANIFEST));
}

/** The compiled worker next to this module; under tsx (tests) the .ts source. */
function workerFile(): string {
  const js = new URL('./worker.js', import.meta.url);
  return existsSync(js) ? js.href : new URL('./worker.ts', import.meta.url).href;
}
