// Word-level tokenizer shared with the Python trainer: docs/CONTRACTS.md §3, exactly.
//   1. lower-case, find all matches of `pattern` (global), map to vocab index or unk_id
//   2. ids = [bos] + word_ids[: L - K - 2] + [eos]   (longer prompts are truncated: warning)
//   3. pad with pad_id to length L (the last K positions are always padding: the face slots)
import { readFileSync } from 'node:fs';

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

export interface Encoding {
  /** Token ids, length L (BigInt64Array for the ONNX int64 input). */
  ids: BigInt64Array;
  /** The words found in the prompt, in order (before truncation). */
  words: string[];
  /** Words not in the vocabulary (mapped to unk_id), deduplicated in order of appearance. */
  unknown: string[];
  /** True when the prompt had more than L - K - 2 words and was cut. */
  truncated: boolean;
  /** Human-readable warnings (unknown words, truncation). */
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

  static fromFile(path: string): Tokenizer {
    let spec: TokenizerSpec;
    try {
      spec = JSON.parse(readFileSync(path, 'utf8')) as TokenizerSpec;
    } catch (err) {
      throw new Error(`tokenizer: cannot read ${path}: ${(err as Error).message}`);
    }
    return new Tokenizer(spec);
  }

  get vocabSize(): number {
    return this.spec.vocab.length;
  }

  /** Split a prompt into words per the contract (lower-casing when the spec says so). */
  words(text: string): string[] {
    const s = this.spec.lowercase ? text.toLowerCase() : text;
    return Array.from(s.matchAll(this.regex), (m) => m[0]);
  }

  /**
   * Encode `text` for context length `contextLength` (L) with `faceTokens` (K) face slots.
   */
  encode(text: string, contextLength: number, faceTokens: number): Encoding {
    const L = contextLength;
    const K = faceTokens;
    const room = L - K - 2;
    if (!Number.isInteger(L) || !Number.isInteger(K) || K < 0 || room < 0) {
      throw new Error(`tokenizer: context_length ${L} leaves no room for bos/eos with ${K} face tokens`);
    }
    const { pad_id, unk_id, bos_id, eos_id } = this.spec;
    const words = this.words(text);
    const unknown: string[] = [];
    const wordIds = words.map((w) => {
      const id = this.index.get(w);
      if (id === undefined) {
        if (!unknown.includes(w)) unknown.push(w);
        return unk_id;
      }
      return id;
    });
    const truncated = wordIds.length > room;
    const kept = wordIds.slice(0, room);
    const ids = new BigInt64Array(L).fill(BigInt(pad_id));
    ids[0] = BigInt(bos_id);
    kept.forEach((id, i) => (ids[i + 1] = BigInt(id)));
    ids[kept.length + 1] = BigInt(eos_id);
    const warnings: string[] = [];
    if (unknown.length > 0) warnings.push(`prompt words not in the vocabulary (encoded as <unk>): ${unknown.join(', ')}`);
    if (truncated) {
      warnings.push(`prompt has ${words.length} tokens, only the first ${room} fit (context ${L} minus ${K} face slots, bos and eos); dropped: "${words.slice(room).join(' ')}"`);
    }
    return { ids, words, unknown, truncated, warnings };
  }
}
