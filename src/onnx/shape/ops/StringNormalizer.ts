import { tensorType, type ShapeRule } from '../rule.ts';

/** StringNormalizer: [C] -> [C'] or [1, C] -> [1, C'] (stop words may remove strings). */
export const StringNormalizer: ShapeRule = {
  op: 'StringNormalizer',
  infer: (ctx) => {
    const s = ctx.shape(0);
    if (!s) return tensorType('string');
    const stop = ctx.attr('stopwords');
    const keep = !stop || (stop.type === 'strings' && stop.value.length === 0);
    const last = keep ? s[s.length - 1]! : null;
    return tensorType('string', s.length === 2 ? [1, last] : [last]);
  },
};
