import { tensorType, type ShapeRule } from '../rule.ts';
import { poolShape } from '../window.ts';

/** MaxPool: [N, C, spatial...] (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode); Indices int64. */
export const MaxPool: ShapeRule = {
  op: 'MaxPool',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const shape = poolShape(ctx, x.shape);
    return [tensorType(x.dtype, shape), tensorType('int64', shape)];
  },
};
