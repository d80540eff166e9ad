/**
 * Spatial output sizes shared by Conv-like and pooling ops (kernel_shape, strides, dilations,
 * pads, auto_pad, ceil_mode), per the ONNX operator specification.
 */
import type { Dim } from '../ir.ts';
import { known, windowOut } from './dims.ts';
import type { ShapeContext } from './rule.ts';

/** Output spatial dims of a sliding window over `spatial` with `kernel` (Conv, pools). */
export function windowShape(ctx: ShapeContext, spatial: Dim[], kernel: Dim[], ceilMode = false): Dim[] {
  const n = spatial.length;
  const strides = ctx.ints('strides') ?? new Array<number>(n).fill(1);
  const dilations = ctx.ints('dilations') ?? new Array<number>(n).fill(1);
  const pads = ctx.ints('pads') ?? new Array<number>(2 * n).fill(0);
  const autoPad = ctx.string('auto_pad', 'NOTSET');
  return spatial.map((input, i) => {
    const s = strides[i] ?? 1;
    const d = dilations[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return known(input) ? Math.ceil(input / s) : null;
    const [pb, pe] = autoPad === 'VALID' ? [0, 0] : [pads[i] ?? 0, pads[i + n] ?? 0];
    return windowOut(input, kernel[i] ?? null, s, d, pb, pe, ceilMode);
  });
}

/** [N, C_out, ...spatial] of a convolution of x by weights w ([C_out, C_in/group, ...kernel]). */
export function convShape(ctx: ShapeContext, x: Dim[] | undefined, w: Dim[] | undefined): Dim[] | undefined {
  const rank = x?.length ?? w?.length;
  if (rank === undefined || rank < 3) return undefined;
  const kernel: Dim[] = ctx.ints('kernel_shape') ?? w?.slice(2) ?? new Array<Dim>(rank - 2).fill(null);
  const spatial = x ? x.slice(2) : new Array<Dim>(rank - 2).fill(null);
  return [x?.[0] ?? null, w?.[0] ?? null, ...windowShape(ctx, spatial, kernel)];
}

/** [N, C, ...spatial] of a pooling op with attribute kernel_shape. */
export function poolShape(ctx: ShapeContext, x: Dim[] | undefined): Dim[] | undefined {
  const kernel = ctx.ints('kernel_shape');
  if (!x || !kernel) return undefined;
  return [x[0]!, x[1]!, ...windowShape(ctx, x.slice(2), kernel, ctx.int('ceil_mode', 0) === 1)];
}
