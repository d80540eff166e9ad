import { matmulShape } from '../matmul.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** MatMulInteger: numpy.matmul of (u)int8 operands accumulating into int32. */
export const MatMulInteger: ShapeRule = {
  op: 'MatMulInteger',
  infer: (ctx) => tensorType('int32', matmulShape(ctx.shape(0), ctx.shape(1))),
};
