/**
 * Word n-gram tokenizer: the words of the word tokenizer and every pair of adjacent words ("free
 * software"), the most frequent of both kept in one vocabulary — the features of a bag-of-bigrams
 * (TF-IDF with ngram_range=(1, 2)), for `text-bow`. Ids come in text order, each pair right after
 * its second word, so cutting a long text keeps whole leading phrases. An unknown word is <unk>; an
 * unknown pair is left out (most pairs are rare; <unk> for each would drown the known ones).
 */
import { normalize, OOV_ID, vocabFromCounts, vocabIndex, words, type Tokenizer } from './tokenizer.ts';

/** Words and, after each word but the first, the pair it ends (words never contain spaces). */
function grams(text: string, lowercase: boolean): { token: string; pair: boolean }[] {
  const w = words(normalize(text, lowercase));
  const out: { token: string; pair: boolean }[] = [];
  w.forEach((x, i) => {
    out.push({ token: x, pair: false });
    if (i > 0) out.push({ token: `${w[i - 1]} ${x}`, pair: true });
  });
  return out;
}

export const ngram: Tokenizer = {
  name: 'ngram',
  summary: 'words and adjacent word pairs (bigrams), lower-cased; the most frequent kept, unknown pairs dropped',
  defaultVocabSize: 50_000,
  train(texts, opts) {
    const lowercase = opts.lowercase ?? true;
    const counts = new Map<string, number>();
    for (const t of texts) for (const { token } of grams(t, lowercase)) counts.set(token, (counts.get(token) ?? 0) + 1);
    return { kind: 'ngram', lowercase, vocab: vocabFromCounts(counts, opts.vocabSize) };
  },
  encoder(state) {
    const index = vocabIndex(state.vocab);
    return (text) => {
      const ids: number[] = [];
      for (const { token, pair } of grams(text, state.lowercase)) {
        const id = index.get(token);
        if (id !== undefined) ids.push(id);
        else if (!pair) ids.push(OOV_ID);
      }
      return ids;
    };
  },
};
