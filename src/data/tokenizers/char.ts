/** Character-level tokenizer: every character (spaces and punctuation included) is a token. */
import { normalize, OOV_ID, vocabFromCounts, vocabIndex, type Tokenizer } from './tokenizer.ts';

/** Runs of whitespace become one space, so layout does not eat the sequence length. */
function chars(text: string): string[] {
  return [...text.replace(/\s+/gu, ' ').trim()];
}

export const char: Tokenizer = {
  name: 'char',
  summary: 'characters (whitespace runs collapsed to one space), the most frequent kept',
  defaultVocabSize: 256,
  train(texts, opts) {
    const lowercase = opts.lowercase ?? true;
    const counts = new Map<string, number>();
    for (const t of texts) for (const c of chars(normalize(t, lowercase))) counts.set(c, (counts.get(c) ?? 0) + 1);
    return { kind: 'char', lowercase, vocab: vocabFromCounts(counts, opts.vocabSize) };
  },
  encoder(state) {
    const index = vocabIndex(state.vocab);
    return (text) => chars(normalize(text, state.lowercase)).map((c) => index.get(c) ?? OOV_ID);
  },
};
