import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceilingSizes } from '../../src/eval/measure/ceiling.js';

test('resolution ceiling sizes: the bundle size and twice it, capped at the detector input, no repeats', () => {
  assert.deepEqual(ceilingSizes(64), [64, 128]);
  assert.deepEqual(ceilingSizes(32), [32, 64]);
  assert.deepEqual(ceilingSizes(160), [160, 256]);
  assert.deepEqual(ceilingSizes(256), [256]);
});
