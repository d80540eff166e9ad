import { matmulShape } from '../matmul.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** com.microsoft MatMulIntegerToFloat(A, B, a_scale, b_scale, ...): matmul of A and B in a_scale's float type. */
export const MatMulIntegerToFloat: ShapeRule = {
  op: 'MatMulIntegerToFloat',
  domain: 'com.microsoft',
  infer: (ctx) => tensorType(ctx.dtype(2) ?? 'float32', matmulShape(ctx.shape(0), ctx.shape(1))),
};
