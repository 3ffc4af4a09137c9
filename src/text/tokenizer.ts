// Word-level tokenizer shared with the Python trainer: docs/CONTRACTS.md §3, exactly.
//   1. lower-case, find all matches of `pattern` (global), map to vocab index or unk_id
//   2. ids = [bos] + word_ids[: L - K - 2] + [eos]   (longer prompts are truncated: warning)
//   3. pad with pad_id to length L (the last K positions are always padding: the face slots)
// Beyond the contract: a caller may pass `mapped` (from a WordMapper, e.g. src/text/wordnet.ts) so
// that a word the vocabulary lacks is encoded as a known word instead of <unk>.
export interface TokenizerSpec {
  type: 'word';
  version: 1;
  lowercase: boolean;
  pattern: string;
  vocab: string[];
  pad_id: number;
  unk_id: number;
  bos_id: number;
  eos_id: number;
}

/** An unknown prompt word replaced by a vocabulary word. */
export interface WordMapping {
  /** The prompt word (not in the vocabulary). */
  word: string;
  /** The vocabulary word used in its place. */
  to: string;
  /** How `to` relates to `word`, for people (e.g. 'WordNet synonym'). */
  relation: string;
}

/** Finds vocabulary words for unknown words (src/text/wordnet.ts's WordNetMapper is one). */
export interface WordMapper {
  /** Mappings for those of `words` it can map; `isKnown` says whether a word is in the vocabulary. */
  map(words: readonly string[], isKnown: (word: string) => boolean): Promise<WordMapping[]>;
}

export interface EncodeOptions {
  /** Replacements for unknown words (those whose `to` is not in the vocabulary are ignored). */
  mapped?: readonly WordMapping[];
}

export interface Encoding {
  /** Token ids, length L (BigInt64Array for the ONNX int64 input). */
  ids: BigInt64Array;
  /** The words found in the prompt, in order (before truncation). */
  words: string[];
  /** Words not in the vocabulary and encoded as unk_id (not mapped), deduplicated in order of appearance. */
  unknown: string[];
  /** Words not in the vocabulary that were encoded as another, known word (options.mapped), in order of appearance. */
  mapped: WordMapping[];
  /** True when the prompt had more than L - K - 2 words and was cut. */
  truncated: boolean;
  /** Human-readable warnings (mapped words, unknown words, truncation). */
  warnings: string[];
}

export class Tokenizer {
  readonly spec: TokenizerSpec;
  private readonly index = new Map<string, number>();
  private readonly regex: RegExp;

  constructor(spec: TokenizerSpec) {
    if (spec.type !== 'word') throw new Error(`tokenizer: unsupported type ${JSON.stringify(spec.type)} (expected "word")`);
    if (spec.version !== 1) throw new Error(`tokenizer: unsupported version ${JSON.stringify(spec.version)} (expected 1)`);
    if (!Array.isArray(spec.vocab) || spec.vocab.length === 0) throw new Error('tokenizer: "vocab" must be a non-empty array of strings');
    for (const k of ['pad_id', 'unk_id', 'bos_id', 'eos_id'] as const) {
      const v = spec[k];
      if (!Number.isInteger(v) || v < 0 || v >= spec.vocab.length) throw new Error(`tokenizer: "${k}" must be an index into vocab, got ${JSON.stringify(v)}`);
    }
    this.spec = spec;
    // First occurrence wins (Python: {w: i for i, w in enumerate(vocab)} would keep the last; vocabularies have no duplicates).
    spec.vocab.forEach((w, i) => {
      if (!this.index.has(w)) this.index.set(w, i);
    });
    this.regex = new RegExp(spec.pattern, 'gu');
  }

  get vocabSize(): number {
    return this.spec.vocab.length;
  }

  /** Whether `word` (as `words()` returns it) is in the vocabulary. */
  has(word: string): boolean {
    return this.index.has(word);
  }

  /** The words of `text` that are not in the vocabulary, deduplicated in order of appearance. */
  unknownWords(text: string): string[] {
    return [...new Set(this.words(text).filter((w) => !this.index.has(w)))];
  }

  /** Split a prompt into words per the contract (lower-casing when the spec says so). */
  words(text: string): string[] {
    const s = this.spec.lowercase ? text.toLowerCase() : text;
    return Array.from(s.matchAll(this.regex), (m) => m[0]);
  }

  /**
   * Encode `text` for context length `contextLength` (L) with `faceTokens` (K) face slots.
   */
  encode(text: string, contextLength: number, faceTokens: number, options: EncodeOptions = {}): Encoding {
    const L = contextLength;
    const K = faceTokens;
    const room = L - K - 2;
    if (!Number.isInteger(L) || !Number.isInteger(K) || K < 0 || room < 0) {
      throw new Error(`tokenizer: context_length ${L} leaves no room for bos/eos with ${K} face tokens`);
    }
    const { pad_id, unk_id, bos_id, eos_id } = this.spec;
    const words = this.words(text);
    const replacements = new Map<string, WordMapping>();
    for (const m of options.mapped ?? []) {
      if (!this.index.has(m.word) && this.index.has(m.to) && !replacements.has(m.word)) replacements.set(m.word, m);
    }
    const unknown: string[] = [];
    const mapped: WordMapping[] = [];
    const wordIds = words.map((w) => {
      const id = this.index.get(w);
      if (id !== undefined) return id;
      const m = replacements.get(w);
      if (m) {
        if (!mapped.includes(m)) mapped.push(m);
        return this.index.get(m.to)!;
      }
      if (!unknown.includes(w)) unknown.push(w);
      return unk_id;
    });
    const truncated = wordIds.length > room;
    const kept = wordIds.slice(0, room);
    const ids = new BigInt64Array(L).fill(BigInt(pad_id));
    ids[0] = BigInt(bos_id);
    kept.forEach((id, i) => (ids[i + 1] = BigInt(id)));
    ids[kept.length + 1] = BigInt(eos_id);
    const warnings: string[] = mapped.map((m) => `"${m.word}" is not in the model's vocabulary: used "${m.to}" (${m.relation})`);
    if (unknown.length > 0) warnings.push(`prompt words not in the vocabulary (encoded as <unk>): ${unknown.join(', ')}`);
    if (truncated) {
      warnings.push(`prompt has ${words.length} tokens, only the first ${room} fit (context ${L} minus ${K} face slots, bos and eos); dropped: "${words.slice(room).join(' ')}"`);
    }
    return { ids, words, unknown, mapped, truncated, warnings };
  }
}
