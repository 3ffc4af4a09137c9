// End to end: `face0 augment` on a few dozen real images from ../shared/data, checked against
// the shard contract; and resume after `kill -9` gives byte-identical shards to an
// uninterrupted run (no duplicates, no losses).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readShard } from '../../src/data/shards.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const BIN = join(ROOT, 'bin', 'face0.js');
const have = existsSync(join(DATA, 'celeba-subset')) && existsSync(join(ROOT, 'dist', 'cli', 'index.js'));

let tmp = '';
let celeba = '', utk = '';

/** A CelebA-layout folder of symlinks: 6 identities x 5 photos (not copies: the data stays in shared/). */
function makeCelebaSubset(dir: string): void {
  const ids = readFileSync(join(DATA, 'celeba-subset', 'identity.txt'), 'utf8').trim().split('\n').map((l) => l.split(/\s+/));
  const byId = new Map<string, string[]>();
  for (const [f, id] of ids) (byId.get(id) ?? byId.set(id, []).get(id)!).push(f);
  const chosen = [...byId.entries()].sort(([a], [b]) => a.localeCompare(b)).slice(0, 6).flatMap(([, fs]) => fs.slice(0, 5));
  mkdirSync(join(dir, 'images'), { recursive: true });
  for (const f of chosen) symlinkSync(join(DATA, 'celeba-subset', 'images', f), join(dir, 'images', f));
  const idLines = ids.filter(([f]) => chosen.includes(f)).map((p) => p.join(' '));
  writeFileSync(join(dir, 'identity.txt'), idLines.join('\n') + '\n');
  const attrs = readFileSync(join(DATA, 'celeba-subset', 'attributes.txt'), 'utf8').trim().split('\n');
  writeFileSync(join(dir, 'attributes.txt'), [String(chosen.length), attrs[1], ...attrs.slice(2).filter((l) => chosen.includes(l.split(/\s+/)[0]))].join('\n') + '\n');
}

function makeUtkSubset(dir: string): void {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const files = readdirSync(join(DATA, 'utkface', 'images')).sort().filter((_, i) => i % 500 === 0).slice(0, 10);
  for (const f of files) symlinkSync(join(DATA, 'utkface', 'images', f), join(dir, 'images', f));
  symlinkSync(join(DATA, 'utkface', 'images', files[0]), join(dir, 'images', '61_1_bad.jpg.chip.jpg')); // malformed name
}

const ARGS = (out: string) => ['augment', `celeba:${celeba}`, `utkface:${utk}`, '--out', out, '--shard-size', '4', '--holdout-identities', '2', '--seed', '3', '--threads', '2'];

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts augment and SIGKILLs it once the manifest lists `shards` shards. */
async function runAndKill(out: string, shards: number): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...ARGS(out)], { stdio: 'ignore' });
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const path = join(out, 'manifest.json');
    try {
      if (existsSync(path) && JSON.parse(readFileSync(path, 'utf8')).shards.length >= shards) break;
    } catch { /* manifest mid-rename: retry */ }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await exited;
}

const shardFiles = (dir: string) => readdirSync(dir).filter((f) => /^shard-\d+\.tar$/.test(f)).sort();

describe('face0 augment (real images)', { skip: !have && 'needs ../shared/data and a build (npm run build)' }, () => {
  let full = '';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'face0-aug-'));
    celeba = join(tmp, 'celeba'); utk = join(tmp, 'utk');
    makeCelebaSubset(celeba);
    makeUtkSubset(utk);
    full = join(tmp, 'full');
    const r = runCli(ARGS(full));
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('writes shards that follow the contract', async () => {
    const m = JSON.parse(readFileSync(join(full, 'manifest.json'), 'utf8'));
    assert.equal(m.complete, true);
    const holdout = readFileSync(join(full, 'holdout.txt'), 'utf8').trim().split('\n');
    assert.equal(holdout.length, 2);
    assert.ok(holdout.every((h) => /^celeba:\d+$/.test(h)));
    assert.equal(m.counts.heldOut, 10, 'two whole identities of 5 photos are held out');
    assert.equal(m.perSource.utkface.skippedBeforeDetection.bad_filename, 1);
    assert.equal(m.counts.inputs, 20 + 10);
    assert.equal(m.counts.kept + Object.values(m.counts.dropped as Record<string, number>).reduce((a, b) => a + b, 0), m.counts.inputs);
    assert.ok(m.counts.kept >= 25, `kept ${m.counts.kept}`);

    const keys = new Set<string>();
    let n = 0;
    for (const f of shardFiles(full)) {
      // plain tar: every sample has exactly the four members, in order
      const names = spawnSync('tar', ['tf', join(full, f)], { encoding: 'utf8' }).stdout.trim().split('\n');
      assert.equal(names.length % 4, 0);
      for (let i = 0; i < names.length; i += 4) {
        const key = names[i].replace(/\.jpg$/, '');
        assert.deepEqual(names.slice(i, i + 4), ['jpg', 'txt', 'npy', 'json'].map((e) => `${key}.${e}`));
      }
      for await (const s of readShard(join(full, f))) {
        n++;
        assert.match(s.key, /^[A-Za-z0-9_-]+$/);
        assert.ok(!keys.has(s.key), `duplicate ${s.key}`);
        keys.add(s.key);
        const meta = await sharp(s.jpg).metadata();
        assert.equal(meta.format, 'jpeg');
        assert.equal(meta.width, 64);
        assert.equal(meta.height, 64);
        assert.equal(s.embedding.length, 128);
        const norm = Math.hypot(...s.embedding);
        assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
        assert.ok(s.caption.length > 5);
        assert.equal(s.meta.size, 64);
        assert.equal(s.meta.faces >= 1, true);
        assert.equal(s.meta.landmarks5.length, 5);
        assert.match(s.meta.embedder, /^face-api@/);
        // the caption variants (default 8): KEY.txt first, distinct, at most 8
        assert.ok(s.meta.captions && s.meta.captions.length >= 2 && s.meta.captions.length <= 8, `${s.key}: captions`);
        assert.equal(s.meta.captions[0], s.caption);
        assert.equal(new Set(s.meta.captions).size, s.meta.captions.length);
        if (s.meta.source === 'celeba') {
          assert.ok(!holdout.includes(`celeba:${s.meta.identity}`), 'held-out person in training shards');
          assert.equal(typeof s.meta.attributes.Male, 'boolean');
        } else {
          assert.equal(s.meta.source, 'utkface');
          assert.equal(typeof s.meta.attributes.age, 'number');
        }
      }
    }
    assert.equal(n, m.counts.kept);
    // the held-out people's samples go to holdout-*.tar only (validation losses; the trainer refuses them)
    const hold = readdirSync(full).filter((f) => /^holdout-\d+\.tar$/.test(f)).sort();
    assert.deepEqual(hold, m.holdoutShards.map((h: { name: string }) => h.name).sort());
    let nh = 0;
    for (const f of hold) for await (const s of readShard(join(full, f))) {
      nh++;
      assert.ok(holdout.includes(`celeba:${s.meta.identity}`), `${s.key} in ${f} is not a held-out person`);
      assert.ok(s.meta.framing && s.meta.framing.zoom <= 1.55, 'framing recorded');
    }
    assert.ok(nh >= 8 && nh <= 10, `${nh} held-out samples of 10 photos`);
    const stats = JSON.parse(readFileSync(join(full, 'identity_stats.json'), 'utf8'));
    assert.equal(stats.count, m.counts.kept);
    assert.equal(stats.mean.length, 128);
    assert.equal(stats.cholesky.length, 128);
  });

  test('resumes after kill -9 with byte-identical shards', async () => {
    const out = join(tmp, 'killed');
    await runAndKill(out, 1);
    await runAndKill(out, 3);
    const r = runCli(ARGS(out));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(shardFiles(out), shardFiles(full));
    for (const f of shardFiles(full)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(full, f))), `${f} differs`);
    const a = JSON.parse(readFileSync(join(full, 'manifest.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(b.counts, a.counts);
    assert.deepEqual(b.shards, a.shards);
    assert.ok(readdirSync(out).every((f) => !f.endsWith('.tmp')));
  });

  test('refuses to mix runs with other settings', () => {
    const r = runCli([...ARGS(full).filter((x) => x !== '--seed' && x !== '3'), '--seed', '4']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /other settings/);
  });

  test('split run: parts are disjoint and together cover the single run', async () => {
    const parts = [0, 1].map((i) => {
      const out = join(tmp, `part${i}`);
      const r = runCli([...ARGS(out), '--shard-index', String(i), '--shard-count', '2']);
      assert.equal(r.status, 0, r.stderr);
      return out;
    });
    const keysOf = async (dir: string) => { const ks: string[] = []; for (const f of shardFiles(dir)) for await (const s of readShard(join(dir, f))) ks.push(s.key); return ks; };
    const [k0, k1] = [await keysOf(parts[0]), await keysOf(parts[1])];
    assert.equal(k0.filter((k) => k1.includes(k)).length, 0);
    assert.deepEqual([...k0, ...k1].sort(), (await keysOf(full)).sort());
    assert.equal(shardFiles(parts[0]).filter((f) => shardFiles(parts[1]).includes(f)).length, 0, 'shard names collide across parts');
  });
});
