/** Reductions (ReduceSum, ReduceMean, ...): axes from an input or an attribute, keepdims. */
import { axis as normAxis } from './dims.ts';
import { tensorType, type ShapeRule } from './rule.ts';

/**
 * A Reduce* rule. `axesInputSince`: the opset where `axes` moved from attribute to input
 * (13 for ReduceSum, 18 for the others).
 */
export function reduction(op: string, axesInputSince: number): ShapeRule {
  return {
    op,
    infer: (ctx) => {
      const x = ctx.input(0);
      if (!x) return undefined;
      const keep = ctx.int('keepdims', 1) === 1;
      const fromInput = ctx.opset >= axesInputSince;
      const axes = fromInput ? (ctx.has(1) ? ctx.numbers(1) : []) : (ctx.ints('axes') ?? []);
      if (!x.shape) return tensorType(x.dtype);
      const shape = x.shape;
      if (!axes) {
        // axes computed at run time: only the rank is known
        const count = ctx.shape(1)?.[0];
        if (keep)
          return tensorType(
            x.dtype,
            shape.map(() => null),
          );
        return tensorType(
          x.dtype,
          typeof count === 'number' ? new Array<null>(shape.length - count).fill(null) : undefined,
        );
      }
      if (axes.length === 0 && fromInput && ctx.int('noop_with_empty_axes', 0) === 1) return tensorType(x.dtype, shape);
      const set = new Set(axes.length ? axes.map((a) => normAxis(a, shape.length)) : shape.map((_, i) => i));
      if (set.has(undefined)) return undefined;
      return tensorType(
        x.dtype,
        keep ? shape.map((d, i) => (set.has(i) ? 1 : d)) : shape.filter((_, i) => !set.has(i)),
      );
    },
  };
}
