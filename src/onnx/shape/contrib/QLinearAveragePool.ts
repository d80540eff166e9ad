import { tensorType, type ShapeRule } from '../rule.ts';
import { poolShape } from '../window.ts';

/** com.microsoft QLinearAveragePool (NCHW; channels_last left unknown): AveragePool's shape. */
export const QLinearAveragePool: ShapeRule = {
  op: 'QLinearAveragePool',
  domain: 'com.microsoft',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (ctx.int('channels_last', 0) === 1) return tensorType(x.dtype);
    return tensorType(x.dtype, poolShape(ctx, x.shape));
  },
};
