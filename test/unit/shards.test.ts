// WebDataset shards (src/data/shards.ts, docs/CONTRACTS.md §1): roundtrip, member order and names,
// readable by Python's tarfile + NumPy, atomic writes, deterministic bytes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { readShard, shardName, writeShard, type Sample, type SampleMeta } from '../../src/data/shards.js';

const PY = '/usr/bin/python3';
const numpyAvailable = spawnSync(PY, ['-c', 'import numpy, tarfile'], { stdio: 'ignore' }).status === 0;
const EMBEDDER = 'face-api@1.7.15/faceRecognitionNet/align5-z1-y-0.15';

function meta(i: number, source: 'celeba' | 'utkface'): SampleMeta {
  return {
    source,
    file: source === 'celeba' ? `${String(i + 1).padStart(6, '0')}.jpg` : `26_1_0_2017011617452512${i}.jpg.chip.jpg`,
    identity: source === 'celeba' ? String(1000 + i) : null,
    attributes: source === 'celeba' ? { Smiling: i % 2 === 0, Male: i % 3 === 0 } : { age: 26, gender: 'female', race: 'white' },
    score: 0.9 + i / 100,
    box: [10 + i, 20, 100, 120],
    landmarks5: [[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]],
    faces: 1,
    size: 64,
    embedder: EMBEDDER,
  };
}

function makeSamples(n: number): Sample[] {
  return Array.from({ length: n }, (_, i) => {
    const embedding = new Float32Array(128);
    for (let d = 0; d < 128; d++) embedding[d] = Math.sin(i * 131 + d * 0.37) / 8 + (d === i ? 0.1 : 0); // arbitrary, non-round floats
    // fake JPEG payload: not decoded by the shard layer, but binary (incl. zero bytes)
    const jpg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, i, 255 - i, ...Array.from({ length: 37 * (i + 1) }, (_, k) => (k * 7 + i) & 0xff), 0xff, 0xd9]);
    const captions = ['a photo of a smiling woman with glasses', 'ein Foto: Gesicht mit Brille — ünïcödé ✓ 😀', 'a portrait of a 26-year-old woman', 'rosy cheeks', '日本語のキャプション'];
    return { key: `${i % 2 ? 'utkface' : 'celeba'}_${String(i).padStart(4, '0')}-x`, jpg, caption: captions[i % captions.length], embedding, meta: meta(i, i % 2 ? 'utkface' : 'celeba') };
  });
}

/** Member names in archive order, read with tar-stream's extractor. */
async function memberNames(path: string): Promise<{ name: string; size: number; type: string }[]> {
  const extract = tar.extract();
  createReadStream(path).pipe(extract);
  const out: { name: string; size: number; type: string }[] = [];
  for await (const entry of extract) {
    out.push({ name: entry.header.name, size: entry.header.size ?? -1, type: entry.header.type ?? '' });
    entry.resume();
  }
  return out;
}

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'face0-shards-')); });
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('shards', () => {
  test('shardName', () => {
    assert.equal(shardName(0), 'shard-000000.tar');
    assert.equal(shardName(42), 'shard-000042.tar');
    assert.equal(shardName(1234567), 'shard-1234567.tar');
  });

  test('writeShard / readShard roundtrip: keys, UTF-8 captions, exact embeddings, meta, image bytes', async () => {
    const samples = makeSamples(7);
    const path = join(dir, 'roundtrip.tar');
    await writeShard(path, samples);
    const back: Sample[] = [];
    for await (const s of readShard(path)) back.push(s);
    assert.equal(back.length, samples.length);
    back.forEach((s, i) => {
      const want = samples[i];
      assert.equal(s.key, want.key);
      assert.equal(s.caption, want.caption);
      assert.ok(s.jpg.equals(want.jpg), `jpg bytes of ${s.key}`);
      assert.ok(s.embedding instanceof Float32Array);
      assert.deepEqual(Array.from(s.embedding), Array.from(want.embedding), `embedding of ${s.key} is bit-exact`);
      assert.deepEqual(s.meta, want.meta);
    });
  });

  test('members are KEY.jpg, KEY.txt, KEY.npy, KEY.json per sample, in that order, plain files', async () => {
    const samples = makeSamples(3);
    const path = join(dir, 'order.tar');
    await writeShard(path, samples);
    const members = await memberNames(path);
    const expected = samples.flatMap((s) => ['jpg', 'txt', 'npy', 'json'].map((ext) => `${s.key}.${ext}`));
    assert.deepEqual(members.map((m) => m.name), expected);
    for (const m of members) assert.equal(m.type, 'file');
    assert.equal(members[0].size, samples[0].jpg.length);
    assert.equal(members[1].size, Buffer.byteLength(samples[0].caption, 'utf8'));
    assert.equal(members[2].size, 128 + 128 * 4, '.npy: 128-byte header + 128 float32');
    // and the system tar agrees (a plain POSIX tar)
    const t = spawnSync('tar', ['tf', path], { encoding: 'utf8' });
    if (t.status === 0) assert.deepEqual(t.stdout.trim().split('\n'), expected);
  });

  test('Python tarfile + NumPy read the shard', { skip: !numpyAvailable && `${PY} with numpy not available` }, async () => {
    const samples = makeSamples(5);
    const path = join(dir, 'python.tar');
    await writeShard(path, samples);
    const script = `
import io, json, sys, tarfile, collections
import numpy as np
groups = collections.OrderedDict()
with tarfile.open(sys.argv[1]) as tf:
    for m in tf.getmembers():
        assert m.isfile(), m.name
        key, ext = m.name.split('.', 1)
        groups.setdefault(key, {})[ext] = tf.extractfile(m).read()
out = []
for key, parts in groups.items():
    e = np.load(io.BytesIO(parts['npy']), allow_pickle=False)
    out.append({'key': key, 'exts': sorted(parts), 'dtype': str(e.dtype), 'shape': list(e.shape),
                'first': float(e[0]), 'sum': float(e.astype(np.float64).sum()),
                'caption': parts['txt'].decode('utf-8'), 'meta': json.loads(parts['json'].decode('utf-8'))})
print(json.dumps(out))
`;
    const r = spawnSync(PY, ['-c', script, path], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const seen = JSON.parse(r.stdout) as { key: string; exts: string[]; dtype: string; shape: number[]; first: number; sum: number; caption: string; meta: SampleMeta }[];
    assert.equal(seen.length, samples.length);
    seen.forEach((s, i) => {
      assert.equal(s.key, samples[i].key);
      assert.deepEqual(s.exts, ['jpg', 'json', 'npy', 'txt']);
      assert.equal(s.dtype, 'float32');
      assert.deepEqual(s.shape, [128]);
      assert.equal(s.first, samples[i].embedding[0]);
      const sum = samples[i].embedding.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s.sum - sum) < 1e-9, `sum ${s.sum} vs ${sum}`);
      assert.equal(s.caption, samples[i].caption);
      assert.deepEqual(s.meta, samples[i].meta);
    });
  });

  test('no .tmp is left after writing', async () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    await writeShard(join(sub, shardName(0)), makeSamples(2));
    await writeShard(join(sub, shardName(1)), makeSamples(5));
    assert.deepEqual(readdirSync(sub).sort(), [shardName(0), shardName(1)]);
  });

  // BUG (src/data/shards.ts writeShard): on an invalid key the catch block destroys the pack and
  // unlinks NAME.tmp without waiting for the pipeline; the file stream opens/flushes afterwards and
  // recreates NAME.tmp, and the un-awaited pipeline promise rejects with ERR_STREAM_PREMATURE_CLOSE
  // as an unhandledRejection (which kills a Node process by default). Fix: validate every key before
  // creating the streams, and in the catch `await done.catch(() => {})` before unlinking.
  test('an invalid key throws and leaves no files (old shard untouched)', async () => {
    const sub = mkdtempSync(join(dir, 'invalid-'));
    await writeShard(join(sub, shardName(0)), makeSamples(2));
    for (const bad of ['has.dot', 'a/b', '', 'space key', 'ünï']) {
      const samples = makeSamples(3);
      samples[1] = { ...samples[1], key: bad };
      await assert.rejects(writeShard(join(sub, shardName(1)), samples), /invalid sample key/, `key ${JSON.stringify(bad)}`);
      await new Promise((r) => setTimeout(r, 50)); // let any late stream activity happen
      assert.deepEqual(readdirSync(sub), [shardName(0)], `files left after key ${JSON.stringify(bad)}`);
    }
    // a failed rewrite of an existing shard leaves the old one untouched and no .tmp
    const before = readFileSync(join(sub, shardName(0)));
    const samples = makeSamples(2);
    samples[0] = { ...samples[0], key: 'bad.key' };
    await assert.rejects(writeShard(join(sub, shardName(0)), samples), /invalid sample key/);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(readFileSync(join(sub, shardName(0))).equals(before));
    assert.deepEqual(readdirSync(sub), [shardName(0)]);
  });

  test('deterministic bytes: the same samples written twice give identical files', async () => {
    const a = join(dir, 'det-a.tar'), b = join(dir, 'det-b.tar');
    await writeShard(a, makeSamples(6));
    await new Promise((r) => setTimeout(r, 1100)); // a different wall-clock second
    await writeShard(b, makeSamples(6));
    assert.ok(readFileSync(a).equals(readFileSync(b)));
    const changed = makeSamples(6);
    changed[2].embedding[5] += 1e-3;
    const c = join(dir, 'det-c.tar');
    await writeShard(c, changed);
    assert.ok(!readFileSync(a).equals(readFileSync(c)), 'a changed embedding changes the bytes');
  });

  test('readShard throws on a sample missing a member', async () => {
    // write a tar by hand with a sample lacking its .npy
    const path = join(dir, 'broken.tar');
    const pack = tar.pack();
    pack.entry({ name: 'k1.jpg' }, Buffer.from([1, 2, 3]));
    pack.entry({ name: 'k1.txt' }, 'caption');
    pack.entry({ name: 'k1.json' }, '{}');
    pack.finalize();
    const { createWriteStream } = await import('node:fs');
    const { pipeline } = await import('node:stream/promises');
    await pipeline(pack, createWriteStream(path));
    await assert.rejects(async () => { for await (const _ of readShard(path)) { /* drain */ } }, /k1 has no \.npy/);
  });

  test('an empty shard roundtrips to no samples', async () => {
    const path = join(dir, 'empty.tar');
    await writeShard(path, []);
    const back: Sample[] = [];
    for await (const s of readShard(path)) back.push(s);
    assert.equal(back.length, 0);
  });
});
