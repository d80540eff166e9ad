import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** Compress: the selected count is data-dependent: that dim (or the flattened 1-D length) is unknown. */
export const Compress: ShapeRule = {
  op: 'Compress',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const axisAttr = ctx.int('axis');
    if (axisAttr === undefined) return tensorType(x.dtype, [null]);
    if (!x.shape) return tensorType(x.dtype);
    const a = normAxis(axisAttr, x.shape.length);
    return tensorType(
      x.dtype,
      x.shape.map((d, i) => (i === a ? null : d)),
    );
  },
};
