import { broadcast } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** Where(condition, X, Y): numpy broadcast of the three; type of X. */
export const Where: ShapeRule = {
  op: 'Where',
  infer: (ctx) => {
    const dtype = ctx.dtype(1) ?? ctx.dtype(2);
    return dtype ? tensorType(dtype, broadcast([ctx.shape(0), ctx.shape(1), ctx.shape(2)])) : undefined;
  },
};
