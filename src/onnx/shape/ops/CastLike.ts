import { tensorType, type ShapeRule } from '../rule.ts';

/** CastLike: input 0's shape, input 1's element type. */
export const CastLike: ShapeRule = {
  op: 'CastLike',
  infer: (ctx) => {
    const to = ctx.dtype(1);
    return to ? tensorType(to, ctx.shape(0)) : undefined;
  },
};
