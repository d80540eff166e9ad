import type { Dim } from '../../ir.ts';
import { known } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * ConvTranspose: [N, W[1] * group, spatial...]; spatial from output_shape when given, else
 * stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1 - pads (SAME_*: in * stride).
 */
export const ConvTranspose: ShapeRule = {
  op: 'ConvTranspose',
  infer: (ctx) => {
    const x = ctx.shape(0);
    const w = ctx.shape(1);
    const dtype = ctx.dtype(0) ?? ctx.dtype(1);
    if (!dtype) return undefined;
    const rank = x?.length ?? w?.length;
    if (rank === undefined || rank < 3) return tensorType(dtype);
    const n = rank - 2;
    const group = ctx.int('group', 1);
    const cout: Dim = w && known(w[1]) ? w[1] * group : null;
    const spatialIn = x ? x.slice(2) : new Array<Dim>(n).fill(null);
    const outputShape = ctx.ints('output_shape');
    let spatial: Dim[];
    if (outputShape) spatial = outputShape.slice(-n);
    else {
      const kernel: Dim[] = ctx.ints('kernel_shape') ?? w?.slice(2) ?? new Array<Dim>(n).fill(null);
      const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
      const dil = ctx.ints('dilations') ?? new Array<number>(n).fill(1);
      const outPad = ctx.ints('output_padding') ?? new Array<number>(n).fill(0);
      const pads = ctx.ints('pads') ?? new Array<number>(2 * n).fill(0);
      const autoPad = ctx.string('auto_pad', 'NOTSET');
      spatial = spatialIn.map((d, i) => {
        const k = kernel[i];
        if (!known(d)) return null;
        if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return d * strides[i]!;
        if (!known(k)) return null;
        const [pb, pe] = autoPad === 'VALID' ? [0, 0] : [pads[i]!, pads[i + n]!];
        return strides[i]! * (d - 1) + outPad[i]! + (k - 1) * dil[i]! + 1 - pb - pe;
      });
    }
    return tensorType(dtype, [x?.[0] ?? null, cout, ...spatial]);
  },
};
