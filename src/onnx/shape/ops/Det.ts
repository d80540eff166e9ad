import { tensorType, type ShapeRule } from '../rule.ts';

/** Det: determinants of the trailing square matrices: shape[:-2]. */
export const Det: ShapeRule = {
  op: 'Det',
  infer: (ctx) => {
    const x = ctx.input(0);
    return x ? tensorType(x.dtype, x.shape?.slice(0, -2)) : undefined;
  },
};
