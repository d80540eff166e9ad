import { matmulShape } from '../matmul.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp): matmul shape, y_zero_point's type. */
export const QLinearMatMul: ShapeRule = {
  op: 'QLinearMatMul',
  infer: (ctx) => {
    const dtype = ctx.dtype(7) ?? ctx.dtype(0);
    return dtype ? tensorType(dtype, matmulShape(ctx.shape(0), ctx.shape(3))) : undefined;
  },
};
