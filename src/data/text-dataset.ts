/**
 * Texts with labels → a token dataset: the tokenizer is trained on the training texts (or comes
 * from a trained model), every text becomes `length` token ids (cut at the end, padded at the
 * start), stored as exact integers and fed to models as int64. Pure: sources read the texts.
 */
import { VergeError } from '../errors.ts';
import type { Split } from './dataset.ts';
import type { TextPreprocessing } from './preprocessing.ts';
import { encoderFor, fitLength, OOV_ID, tokenizer } from './tokenizers/index.ts';
import type { SourceLog, SourceOptions } from './sources/source.ts';

/** Default sequence length: this percentile of the training texts' token counts… */
const LENGTH_PERCENTILE = 0.95;
/** …kept within these bounds (longer sequences cost training time in recurrent models). */
const MIN_DEFAULT_LENGTH = 8;
const MAX_DEFAULT_LENGTH = 200;
/** Longest sequence accepted from --max-length. */
export const MAX_SEQUENCE_LENGTH = 4096;

export interface LabelledTexts {
  texts: string[];
  labels: Int32Array;
}

export interface TokenSplits {
  train: Split;
  test: Split;
  preprocessing: TextPreprocessing;
}

function lengthFor(counts: number[]): number {
  const sorted = [...counts].sort((a, b) => a - b);
  const p = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * LENGTH_PERCENTILE))] ?? MIN_DEFAULT_LENGTH;
  return Math.max(MIN_DEFAULT_LENGTH, Math.min(MAX_DEFAULT_LENGTH, p));
}

function toSplit(ids: number[][], labels: Int32Array, length: number): Split {
  const x = new Float32Array(ids.length * length);
  ids.forEach((seq, i) => fitLength(seq, length, x, i * length));
  return { x, y: labels, count: ids.length };
}

/** Tokenize both splits; the tokenizer and length are trained/chosen on the training texts. */
export function tokenizeTexts(
  train: LabelledTexts,
  test: LabelledTexts,
  opts: SourceOptions,
  log: SourceLog,
): TokenSplits {
  let state;
  let length: number;
  if (opts.preprocessing) {
    if (opts.preprocessing.kind !== 'text')
      throw new VergeError('E_DATA_INVALID', `this model reads ${opts.preprocessing.kind} data, not text`);
    const p = opts.preprocessing as TextPreprocessing;
    state = p.tokenizer;
    length = p.length;
  } else {
    const kind = tokenizer(opts.tokenizer ?? 'word');
    state = kind.train(train.texts, { vocabSize: opts.vocabSize ?? kind.defaultVocabSize });
    length = 0;
  }
  const encode = encoderFor(state);
  const trainIds = train.texts.map(encode);
  const testIds = test.texts.map(encode);
  if (!opts.preprocessing) {
    length = opts.maxLength ?? lengthFor(trainIds.map((s) => s.length));
    if (!(Number.isInteger(length) && length >= 1 && length <= MAX_SEQUENCE_LENGTH))
      throw new VergeError('E_BAD_ARGUMENT', `--max-length must be a whole number in 1..${MAX_SEQUENCE_LENGTH}`);
    log.note(
      `${state.kind} tokenizer trained on the training texts: ${state.vocab.length} tokens; sequences of ${length} ids${opts.maxLength ? '' : ` (the ${LENGTH_PERCENTILE * 100}th percentile of training lengths, within ${MIN_DEFAULT_LENGTH}..${MAX_DEFAULT_LENGTH}; --max-length to change)`}`,
    );
  }
  let cut = 0;
  let oov = 0;
  let tokens = 0;
  for (const s of trainIds) {
    if (s.length > length) cut++;
    tokens += s.length;
    for (const id of s) if (id === OOV_ID) oov++;
  }
  log.read('tokens', tokens);
  if (cut) log.note(`${cut} training texts are longer than ${length} tokens and were cut`);
  if (tokens) log.note(`${((100 * oov) / tokens).toFixed(1)}% of training tokens are out of vocabulary`);
  return {
    train: toSplit(trainIds, train.labels, length),
    test: toSplit(testIds, test.labels, length),
    preprocessing: { kind: 'text', tokenizer: state, length },
  };
}

/** Raw text → model input ids [length] int64, the way the model was trained (verge run --text, the agent). */
export function textEncoder(p: TextPreprocessing): (text: string) => BigInt64Array {
  const encode = encoderFor(p.tokenizer);
  return (text) => {
    const out = new BigInt64Array(p.length);
    fitLength(encode(text), p.length, out);
    return out;
  };
}

/**
 * Inverse document frequency of every token id over a token split (scikit-learn's smooth idf:
 * ln((1 + texts) / (1 + texts holding the id)) + 1), padding (id 0) weighing 0 — the weights of
 * TF-IDF, for `text-bow`'s weighted bag (`--token-weights idf`).
 */
export function inverseDocumentFrequencies(split: Split, vocab: number): number[] {
  const df = new Float64Array(vocab);
  const length = split.count ? split.x.length / split.count : 0;
  const seen = new Int32Array(vocab).fill(-1);
  for (let i = 0; i < split.count; i++)
    for (let k = i * length; k < (i + 1) * length; k++) {
      const id = split.x[k]!;
      if (id > 0 && id < vocab && seen[id] !== i) {
        seen[id] = i;
        df[id]!++;
      }
    }
  return Array.from(df, (d, id) => (id === 0 ? 0 : Math.log((1 + split.count) / (1 + d)) + 1));
}
