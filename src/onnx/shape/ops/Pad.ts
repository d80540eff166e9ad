import { axis as normAxis, known } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** Pad: each dim grows by its begin+end pads (input from opset 11, attribute `pads`/`paddings` before; axes input from 18). */
export const Pad: ShapeRule = {
  op: 'Pad',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (!x.shape) return tensorType(x.dtype);
    const shape = x.shape;
    const pads = ctx.opset >= 11 ? ctx.numbers(1) : (ctx.ints('pads') ?? ctx.ints('paddings'));
    if (!pads)
      return tensorType(
        x.dtype,
        shape.map(() => null),
      );
    const axes = ctx.opset >= 18 && ctx.has(3) ? ctx.numbers(3) : shape.map((_, i) => i);
    if (!axes)
      return tensorType(
        x.dtype,
        shape.map(() => null),
      );
    const out = [...shape];
    axes.forEach((a, j) => {
      const i = normAxis(a, shape.length);
      if (i === undefined) return;
      const d = shape[i]!;
      const grow = pads[j]! + pads[j + axes.length]!;
      out[i] = grow === 0 ? d : known(d) ? d + grow : null;
    });
    return tensorType(x.dtype, out);
  },
};
