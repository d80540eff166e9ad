import { dtypeFromCode } from '../../dtype.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** Cast: input's shape, element type `to`. Integer values pass through (shape computations). */
export const Cast: ShapeRule = {
  op: 'Cast',
  infer: (ctx) => {
    const to = dtypeFromCode(ctx.int('to', 0));
    return to ? tensorType(to, ctx.shape(0)) : undefined;
  },
  value: (ctx) => {
    const to = dtypeFromCode(ctx.int('to', 0));
    return to === 'int64' || to === 'int32' ? ctx.value(0) : undefined;
  },
};
