import { tensorType, type ShapeRule } from '../rule.ts';

/** TfIdfVectorizer: [C] -> [max(ngram_indexes)+1], [N, C] -> [N, max(ngram_indexes)+1]; float32. */
export const TfIdfVectorizer: ShapeRule = {
  op: 'TfIdfVectorizer',
  infer: (ctx) => {
    const s = ctx.shape(0);
    const indexes = ctx.ints('ngram_indexes');
    const width = indexes && indexes.length > 0 ? Math.max(...indexes) + 1 : null;
    if (!s || (s.length !== 1 && s.length !== 2)) return tensorType('float32');
    return tensorType('float32', s.length === 1 ? [width] : [s[0]!, width]);
  },
};
