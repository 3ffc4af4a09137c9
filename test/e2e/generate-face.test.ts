// End to end through the real binary: a real face photo from ../shared/data → images, and the
// one-line errors with a non-zero exit for bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { TINY_BUNDLE } from '../helpers/fixture.js';

const BIN = fileURLToPath(new URL('../../bin/face0.js', import.meta.url));
const CELEBA = fileURLToPath(new URL('../../../shared/data/celeba-subset/images/', import.meta.url));
const ready = existsSync(CELEBA) && existsSync(fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url)));

const face0 = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
const COMMON = ['--bundle', TINY_BUNDLE, '--steps', '3', '--threads', '1', '-q'];

describe('face0 generate from a real photo', { skip: !ready && 'needs ../shared/data and npm run build' }, () => {
  let tmp = '';
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'face0-gen-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('a CelebA photo conditions the images; the sidecar records the face and its embedding', async () => {
    const photo = join(CELEBA, readdirSync(CELEBA).sort()[3]);
    const out = join(tmp, 'ok');
    const r = face0(['generate', ...COMMON, '--face', photo, '--prompt', 'a photo of a smiling person', '--count', '2', '--seed', '9', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const pngs = readdirSync(out).filter((f) => f.endsWith('.png')).sort();
    assert.deepEqual(pngs, ['face0-10.png', 'face0-9.png']);
    const meta = await sharp(join(out, 'face0-9.png')).metadata();
    assert.equal(meta.width, 64);
    const side = JSON.parse(readFileSync(join(out, 'face0-9.json'), 'utf8'));
    assert.equal(side.identity.source, 'face');
    assert.deepEqual(side.identity.inputs, [photo]);
    assert.equal(side.identity.embedding.length, 128);
    assert.ok(Math.abs(Math.hypot(...side.identity.embedding) - 1) < 1e-4);
    assert.equal(side.guidance.mode, 'text+face');
  });

  test('bad input: one line on stderr, exit code 1', () => {
    const notImage = join(tmp, 'notes.jpg');
    writeFileSync(notImage, 'this is not a picture');
    const blank = join(tmp, 'blank.png');
    spawnSync(process.execPath, ['-e', `require('sharp')({ create: { width: 200, height: 200, channels: 3, background: '#888' } }).png().toFile(${JSON.stringify(blank)})`], { cwd: fileURLToPath(new URL('../../', import.meta.url)) });
    const cases: [string[], RegExp][] = [
      [['--face', notImage], /notes\.jpg: cannot read image/],
      [['--face', blank], /blank\.png: no face found/],
      [['--face', join(tmp, 'missing.jpg')], /missing\.jpg/],
      [['--random-identity', '1', '--steps', '0'], /steps/],
      [['--random-identity', '1', '--bundle', join(tmp, 'nowhere')], /nowhere/],
    ];
    for (const [args, pattern] of cases) {
      const r = face0(['generate', ...COMMON, '--prompt', 'a photo', '--out', join(tmp, 'bad'), ...args]);
      assert.equal(r.status, 1, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
      const lines = r.stderr.trim().split('\n').filter((l) => !/^note:/.test(l));
      assert.equal(lines.length, 1, `${args.join(' ')}: expected one line, got:\n${r.stderr}`);
      assert.match(lines[0], pattern);
    }
  });
});
