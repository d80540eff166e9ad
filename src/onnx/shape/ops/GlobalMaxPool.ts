import { tensorType, type ShapeRule } from '../rule.ts';

/** GlobalMaxPool: [N, C, 1, 1, ...]. */
export const GlobalMaxPool: ShapeRule = {
  op: 'GlobalMaxPool',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    return tensorType(x.dtype, x.shape && [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)]);
  },
};
