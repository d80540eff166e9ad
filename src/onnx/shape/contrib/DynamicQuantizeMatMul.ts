import { matmulShape } from '../matmul.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** com.microsoft DynamicQuantizeMatMul(A float, B int8, b_scale, b_zp, bias): float matmul of A and B. */
export const DynamicQuantizeMatMul: ShapeRule = {
  op: 'DynamicQuantizeMatMul',
  domain: 'com.microsoft',
  infer: (ctx) => tensorType(ctx.dtype(0) ?? 'float32', matmulShape(ctx.shape(0), ctx.shape(1))),
};
