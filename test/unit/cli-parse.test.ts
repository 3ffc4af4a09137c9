import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAttributes, parseMix, readEmbeddingFile } from '../../src/cli/shared.js';

test('--mix and --attr parsing', () => {
  assert.deepEqual(parseMix('a.jpg:0.7,b.jpg:0.3'), [['a.jpg', 0.7], ['b.jpg', 0.3]]);
  assert.deepEqual(parseMix('C:/x/a.jpg:1'), [['C:/x/a.jpg', 1]]);
  assert.throws(() => parseMix('a.jpg'), /PHOTO:WEIGHT/);
  assert.throws(() => parseMix('a.jpg:x'), /PHOTO:WEIGHT/);
  assert.deepEqual(parseAttributes(['Young=0.8', 'Male=-1,Eyeglasses=0.5']), { Young: 0.8, Male: -1, Eyeglasses: 0.5 });
  assert.throws(() => parseAttributes(['Young']), /NAME=AMOUNT/);
});

test('embedding files: .npy float32 and .json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'face0-emb-'));
  const vals = [0.25, -0.5, 1.5];
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  header = header.padEnd(118, ' ') + '\n';
  const data = Buffer.alloc(12);
  vals.forEach((v, i) => data.writeFloatLE(v, i * 4));
  const buf = Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([header.length & 0xff, header.length >> 8]), Buffer.from(header, 'latin1'), data]);
  writeFileSync(join(dir, 'e.npy'), buf);
  assert.deepEqual(Array.from(readEmbeddingFile(join(dir, 'e.npy'))), vals);
  writeFileSync(join(dir, 'e.json'), JSON.stringify(vals));
  assert.deepEqual(Array.from(readEmbeddingFile(join(dir, 'e.json'))), vals);
  writeFileSync(join(dir, 'bad.npy'), 'hello');
  assert.throws(() => readEmbeddingFile(join(dir, 'bad.npy')), /not a \.npy/);
});

test('face0 --help: bench-generate lives under bench, not beside it', async () => {
  const { buildProgram } = await import('../../src/cli/index.js');
  const program = buildProgram();
  const top = program.commands.map((c) => c.name());
  assert.ok(top.includes('bench'));
  assert.ok(!top.includes('bench-generate'), `top-level commands: ${top.join(', ')}`);
  const bench = program.commands.find((c) => c.name() === 'bench')!;
  assert.deepEqual(bench.commands.map((c) => c.name()).sort(), ['augment', 'browser', 'generate', 'load', 'verify']);
});
