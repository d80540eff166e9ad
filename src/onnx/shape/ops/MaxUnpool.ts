import { known } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** MaxUnpool: output_shape (input 2) when given, else (in - 1) * stride + kernel - pads per spatial axis. */
export const MaxUnpool: ShapeRule = {
  op: 'MaxUnpool',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (ctx.has(2)) {
      const v = ctx.value(2);
      return tensorType(x.dtype, v ? v.values : x.shape?.map(() => null));
    }
    const kernel = ctx.ints('kernel_shape');
    if (!x.shape || !kernel) return tensorType(x.dtype);
    const n = kernel.length;
    const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
    const pads = ctx.ints('pads') ?? new Array<number>(2 * n).fill(0);
    const spatial = x.shape
      .slice(2)
      .map((d, i) => (known(d) ? (d - 1) * strides[i]! + kernel[i]! - pads[i]! - pads[i + n]! : null));
    return tensorType(x.dtype, [x.shape[0]!, x.shape[1]!, ...spatial]);
  },
};
