// WebDataset shards (docs/CONTRACTS.md §1): plain tars of samples, each a group of members
// `KEY.jpg`, `KEY.txt`, `KEY.npy`, `KEY.json`. A shard is written under `NAME.tmp`, flushed and
// renamed when complete, so a reader never sees half a shard.
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { decodeNpyFloat32, encodeNpyFloat32 } from './npy.js';

export interface SampleMeta {
  source: string;
  file: string;
  identity: string | null;
  attributes: Record<string, unknown>;
  score: number;
  box: number[];
  landmarks5: number[][];
  faces: number;
  size: number;
  embedder: string;
  /** The crop's framing (the portrait framing, zoomed in where the photo is too tight for it). */
  framing?: { zoom: number; shiftY: number };
  /** Other captions of the same labels (KEY.txt first), for the trainer to draw from (`face0 augment
   *  --caption-variants`); absent with one caption, and in older shards. */
  captions?: string[];
}

export interface Sample {
  key: string;
  jpg: Buffer;
  caption: string;
  embedding: Float32Array;
  meta: SampleMeta;
}

export const shardName = (index: number): string => `shard-${String(index).padStart(6, '0')}.tar`;
/** Shards of the held-out people (validation only: the trainer refuses to read them). */
export const holdoutShardName = (index: number): string => `holdout-${String(index).padStart(6, '0')}.tar`;
const MTIME = new Date('2020-01-01T00:00:00Z'); // fixed, so identical input gives identical bytes

/** Writes one shard atomically. */
export async function writeShard(path: string, samples: readonly Sample[]): Promise<void> {
  for (const s of samples) if (!/^[A-Za-z0-9_-]+$/.test(s.key)) throw new Error(`invalid sample key "${s.key}"`);
  const tmp = `${path}.tmp`;
  const pack = tar.pack();
  const out = createWriteStream(tmp);
  const done = pipeline(pack, out);
  const add = (name: string, data: Buffer) => new Promise<void>((res, rej) => pack.entry({ name, size: data.length, mtime: MTIME, mode: 0o644 }, data, (e) => (e ? rej(e) : res())));
  try {
    for (const s of samples) {
      await add(`${s.key}.jpg`, s.jpg);
      await add(`${s.key}.txt`, Buffer.from(s.caption, 'utf8'));
      await add(`${s.key}.npy`, encodeNpyFloat32(s.embedding));
      await add(`${s.key}.json`, Buffer.from(JSON.stringify(s.meta), 'utf8'));
    }
    pack.finalize();
    await done;
    const fh = await open(tmp, 'r');
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    pack.destroy();
    await done.catch(() => undefined); // let the file stream settle before removing its file
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Streams the samples of a shard; throws on a sample missing a member. */
export async function* readShard(path: string): AsyncGenerator<Sample> {
  const extract = tar.extract();
  const src = createReadStream(path);
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract);
  let key: string | undefined;
  let parts = new Map<string, Buffer>();
  const finish = (): Sample => {
    for (const ext of ['jpg', 'txt', 'npy', 'json']) if (!parts.has(ext)) throw new Error(`${path}: sample ${key} has no .${ext}`);
    return { key: key!, jpg: parts.get('jpg')!, caption: parts.get('txt')!.toString('utf8'), embedding: decodeNpyFloat32(parts.get('npy')!).values, meta: JSON.parse(parts.get('json')!.toString('utf8')) as SampleMeta };
  };
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const name = entry.header.name;
    const dot = name.indexOf('.');
    const k = name.slice(0, dot), ext = name.slice(dot + 1);
    if (k !== key) {
      if (key !== undefined) yield finish();
      key = k;
      parts = new Map();
    }
    parts.set(ext, Buffer.concat(chunks));
  }
  if (key !== undefined) yield finish();
}
