import { tensorType, type ShapeRule } from '../rule.ts';

/** DequantizeLinear: x's shape; x_scale's type (float32 before opset 19 allowed other types). */
export const DequantizeLinear: ShapeRule = {
  op: 'DequantizeLinear',
  infer: (ctx) => tensorType(ctx.dtype(1) ?? 'float32', ctx.shape(0)),
};
