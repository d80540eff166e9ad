import { tensorType, type ShapeRule } from '../rule.ts';

/** DynamicQuantizeLinear: y uint8 like x; y_scale float32 scalar; y_zero_point uint8 scalar. */
export const DynamicQuantizeLinear: ShapeRule = {
  op: 'DynamicQuantizeLinear',
  infer: (ctx) => [tensorType('uint8', ctx.shape(0)), tensorType('float32', []), tensorType('uint8', [])],
};
