import { tensorType, type ShapeRule } from '../rule.ts';

/** GatherElements: output has the shape of indices and the type of data. */
export const GatherElements: ShapeRule = {
  op: 'GatherElements',
  infer: (ctx) => {
    const dtype = ctx.dtype(0);
    return dtype ? tensorType(dtype, ctx.shape(1)) : undefined;
  },
};
