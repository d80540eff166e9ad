import { matmulShape } from '../matmul.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** MatMul: numpy.matmul (1-D operands promoted and squeezed, batch dims broadcast). */
export const MatMul: ShapeRule = {
  op: 'MatMul',
  infer: (ctx) => {
    const dtype = ctx.dtype(0) ?? ctx.dtype(1);
    return dtype ? tensorType(dtype, matmulShape(ctx.shape(0), ctx.shape(1))) : undefined;
  },
};
