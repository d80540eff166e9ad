import { axis as normAxis, known } from '../dims.ts';
import { tensorType, type ShapeRule, type SymbolicValue } from '../rule.ts';

/** Squeeze: drop the `axes` (input from opset 13, attribute before); no axes: drop every 1. */
export const Squeeze: ShapeRule = {
  op: 'Squeeze',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (!x.shape) return tensorType(x.dtype);
    const shape = x.shape;
    const raw = ctx.opset >= 13 ? (ctx.has(1) ? ctx.numbers(1) : undefined) : ctx.ints('axes');
    if (ctx.opset >= 13 && ctx.has(1) && !raw) {
      // axes computed at run time: only the rank is known
      const count = ctx.shape(1)?.[0];
      return tensorType(
        x.dtype,
        typeof count === 'number' ? new Array<null>(shape.length - count).fill(null) : undefined,
      );
    }
    if (!raw) {
      if (!shape.every(known)) return tensorType(x.dtype); // which dims are 1 is not known
      return tensorType(
        x.dtype,
        shape.filter((d) => d !== 1),
      );
    }
    const axes = new Set(raw.map((a) => normAxis(a, shape.length)));
    return tensorType(
      x.dtype,
      shape.filter((_, i) => !axes.has(i)),
    );
  },
  value: (ctx): SymbolicValue | undefined => {
    const v = ctx.value(0);
    return v && !v.scalar && v.values.length === 1 ? { values: v.values, scalar: true } : undefined;
  },
};
