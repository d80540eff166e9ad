/** Word-level tokenizer: lower-cased words (letters and digits), punctuation dropped, the most frequent words kept. */
import { normalize, OOV_ID, vocabFromCounts, vocabIndex, words, type Tokenizer } from './tokenizer.ts';

export const word: Tokenizer = {
  name: 'word',
  summary: 'words (letters/digits), lower-cased, punctuation dropped; the most frequent words, others map to <unk>',
  defaultVocabSize: 20_000,
  train(texts, opts) {
    const lowercase = opts.lowercase ?? true;
    const counts = new Map<string, number>();
    for (const t of texts) for (const w of words(normalize(t, lowercase))) counts.set(w, (counts.get(w) ?? 0) + 1);
    return { kind: 'word', lowercase, vocab: vocabFromCounts(counts, opts.vocabSize) };
  },
  encoder(state) {
    const index = vocabIndex(state.vocab);
    return (text) => words(normalize(text, state.lowercase)).map((w) => index.get(w) ?? OOV_ID);
  },
};
