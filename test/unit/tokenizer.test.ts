import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '../../src/text/tokenizer.js';

const spec = {
  type: 'word' as const, version: 1 as const, lowercase: true, pattern: '[a-z0-9]+|[^a-z0-9\\s]',
  vocab: ['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'photo', 'of', 'person', ',', 'smiling', '2'],
  pad_id: 0, unk_id: 1, bos_id: 2, eos_id: 3,
};
const tok = new Tokenizer(spec);
const ids = (e: { ids: BigInt64Array }) => Array.from(e.ids, Number);

test('encodes per CONTRACTS §3: lower-case, bos/eos, pad to L, last K are padding', () => {
  const e = tok.encode('A Photo of a person, SMILING', 12, 3);
  assert.deepEqual(ids(e), [2, 4, 5, 6, 4, 7, 8, 9, 3, 0, 0, 0]);
  assert.deepEqual(e.warnings, []);
  assert.equal(e.ids.length, 12);
});

test('empty prompt encodes to [bos, eos, pad, ...]', () => {
  assert.deepEqual(ids(tok.encode('', 8, 2)), [2, 3, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(ids(tok.encode('   ', 8, 2)), [2, 3, 0, 0, 0, 0, 0, 0]);
});

test('unknown words map to unk and are reported; punctuation is one token per char', () => {
  const e = tok.encode('a Zebra photo!! zebra', 12, 2);
  assert.deepEqual(ids(e), [2, 4, 1, 5, 1, 1, 1, 3, 0, 0, 0, 0]);
  assert.deepEqual(e.unknown, ['zebra', '!']);
  assert.match(e.warnings[0], /not in the vocabulary.*zebra, !/);
  // digits are word characters
  assert.deepEqual(ids(tok.encode('a2 2', 8, 2)).slice(0, 4), [2, 1, 10, 3]);
});

test('truncates to L - K - 2 words with a warning', () => {
  const e = tok.encode('a photo of a person smiling', 8, 2); // room = 4
  assert.deepEqual(ids(e), [2, 4, 5, 6, 4, 3, 0, 0]);
  assert.equal(e.truncated, true);
  assert.match(e.warnings.join('\n'), /only the first 4 fit.*dropped: "person smiling"/);
  assert.throws(() => tok.encode('a', 4, 3), /no room/);
});

test('rejects malformed tokenizer files', () => {
  assert.throws(() => new Tokenizer({ ...spec, type: 'bpe' as any }), /unsupported type/);
  assert.throws(() => new Tokenizer({ ...spec, eos_id: 99 }), /eos_id/);
});
