import { tensorType, type ShapeRule } from '../rule.ts';
import { convShape } from '../window.ts';

/** Conv: [N, C_out, spatial...] from X, W and kernel_shape/strides/dilations/pads/auto_pad. */
export const Conv: ShapeRule = {
  op: 'Conv',
  infer: (ctx) => {
    const dtype = ctx.dtype(0) ?? ctx.dtype(1);
    return dtype ? tensorType(dtype, convShape(ctx, ctx.shape(0), ctx.shape(1))) : undefined;
  },
};
