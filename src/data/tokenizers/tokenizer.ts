/**
 * The shape of a tokenizer: trained on the training texts, then saved with the model as plain
 * JSON (TokenizerState) so `verge run --text`, the agent and browsers tokenize new text exactly
 * like training did. Ids 0 and 1 are reserved: padding and out-of-vocabulary. Pure: no Node.
 */
import { VergeError } from '../../errors.ts';

/** Id of the padding token (sequences are padded at the start with it). */
export const PAD_ID = 0;
/** Id of every token not in the vocabulary. */
export const OOV_ID = 1;
export const PAD_TOKEN = '<pad>';
export const OOV_TOKEN = '<unk>';
/** Largest vocabulary accepted (ids must stay exact in float32 storage, and tables small). */
export const MAX_VOCAB = 1_000_000;

/** What a trained tokenizer saves: its kind, vocabulary (index = id) and kind-specific data. */
export interface TokenizerState {
  kind: string;
  lowercase: boolean;
  /** Tokens by id; vocab[0] = PAD_TOKEN, vocab[1] = OOV_TOKEN. */
  vocab: string[];
  /** BPE: merge rules in priority order, each "left right". */
  merges?: string[];
}

export interface TokenizerTrainOptions {
  /** Largest vocabulary, reserved ids included. */
  vocabSize: number;
  lowercase?: boolean;
}

export interface Tokenizer {
  /** Registry name, also the file name: 'word' lives in tokenizers/word.ts. */
  readonly name: string;
  readonly summary: string;
  /** Default vocabulary size for this kind. */
  readonly defaultVocabSize: number;
  train(texts: readonly string[], opts: TokenizerTrainOptions): TokenizerState;
  /** A reusable encoder for a trained state (may cache per word). */
  encoder(state: TokenizerState): (text: string) => number[];
}

/** Unicode-normalized, optionally lower-cased text. */
export function normalize(text: string, lowercase: boolean): string {
  const t = text.normalize('NFKC');
  return lowercase ? t.toLowerCase() : t;
}

/** Words: runs of letters, digits and marks (punctuation and spaces separate them and are dropped). */
export function words(text: string): string[] {
  return text.match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
}

/** Vocabulary from token counts: reserved tokens, then the most frequent (ties by token) up to `size`. */
export function vocabFromCounts(counts: Map<string, number>, size: number): string[] {
  if (!(Number.isInteger(size) && size > 2 && size <= MAX_VOCAB))
    throw new VergeError('E_BAD_ARGUMENT', `vocabulary size must be a whole number in 3..${MAX_VOCAB}, got ${size}`);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return [PAD_TOKEN, OOV_TOKEN, ...ranked.slice(0, size - 2).map(([t]) => t)];
}

/** Token → id lookup of a vocabulary. */
export function vocabIndex(vocab: readonly string[]): Map<string, number> {
  return new Map(vocab.map((t, i) => [t, i]));
}

/**
 * A fixed-length sequence: the first `length` ids (the start of a text carries the most), padded
 * at the start with PAD_ID so recurrent models end on real tokens. Written at `out[offset…]`.
 */
export function fitLength(ids: readonly number[], length: number, out: Float32Array | BigInt64Array, offset = 0): void {
  const n = Math.min(ids.length, length);
  const pad = length - n;
  for (let i = 0; i < length; i++) {
    const v = i < pad ? PAD_ID : ids[i - pad]!;
    if (out instanceof BigInt64Array) out[offset + i] = BigInt(v);
    else out[offset + i] = v;
  }
}
