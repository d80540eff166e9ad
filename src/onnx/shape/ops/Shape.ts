import type { Dim } from '../../ir.ts';
import { tensorType, type ShapeContext, type ShapeRule, type SymbolicValue } from '../rule.ts';

/** Dims selected by start/end (opset 15), clamped like Python slicing. */
function selected(ctx: ShapeContext, shape: Dim[]): Dim[] {
  const r = shape.length;
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  return shape.slice(norm(ctx.int('start', 0)), norm(ctx.int('end', r)));
}

/** Shape: 1-D int64 of the input's rank; its value is the input's dims (symbols kept). */
export const Shape: ShapeRule = {
  op: 'Shape',
  infer: (ctx) => {
    const s = ctx.shape(0);
    return tensorType('int64', [s ? selected(ctx, s).length : null]);
  },
  value: (ctx): SymbolicValue | undefined => {
    const s = ctx.shape(0);
    return s ? { values: selected(ctx, s), scalar: false } : undefined;
  },
};
