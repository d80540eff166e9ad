import { tensorType, type ShapeRule } from '../rule.ts';
import { convShape } from '../window.ts';

/** QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B): Conv shape; y_zero_point's type. */
export const QLinearConv: ShapeRule = {
  op: 'QLinearConv',
  infer: (ctx) => {
    const dtype = ctx.dtype(7) ?? ctx.dtype(0);
    return dtype ? tensorType(dtype, convShape(ctx, ctx.shape(0), ctx.shape(3))) : undefined;
  },
};
