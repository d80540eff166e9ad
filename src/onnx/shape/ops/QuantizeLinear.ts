import { dtypeFromCode } from '../../dtype.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** QuantizeLinear: x's shape; y_zero_point's type, else output_dtype (opset 21), else uint8. */
export const QuantizeLinear: ShapeRule = {
  op: 'QuantizeLinear',
  infer: (ctx) => {
    const attr = ctx.int('output_dtype', 0);
    const dtype = ctx.dtype(2) ?? (attr ? dtypeFromCode(attr) : undefined) ?? 'uint8';
    return tensorType(dtype, ctx.shape(0));
  },
};
