import { tensorType, type ShapeRule } from '../rule.ts';
import { poolShape } from '../window.ts';

/** AveragePool: [N, C, spatial...] from kernel_shape, strides, pads, auto_pad, ceil_mode. */
export const AveragePool: ShapeRule = {
  op: 'AveragePool',
  infer: (ctx) => {
    const x = ctx.input(0);
    return x ? tensorType(x.dtype, poolShape(ctx, x.shape)) : undefined;
  },
};
