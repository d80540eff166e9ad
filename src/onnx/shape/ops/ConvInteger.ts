import { tensorType, type ShapeRule } from '../rule.ts';
import { convShape } from '../window.ts';

/** ConvInteger: a Conv of (u)int8 X and W accumulating into int32. */
export const ConvInteger: ShapeRule = {
  op: 'ConvInteger',
  infer: (ctx) => tensorType('int32', convShape(ctx, ctx.shape(0), ctx.shape(1))),
};
