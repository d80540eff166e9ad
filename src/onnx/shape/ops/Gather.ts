import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule, type SymbolicValue } from '../rule.ts';

/** Gather: data.shape[:axis] + indices.shape + data.shape[axis+1:]. Propagates values of 1-D data. */
export const Gather: ShapeRule = {
  op: 'Gather',
  infer: (ctx) => {
    const data = ctx.input(0);
    const indices = ctx.shape(1);
    if (!data) return undefined;
    if (!data.shape || !indices) return tensorType(data.dtype);
    const a = normAxis(ctx.int('axis', 0), data.shape.length);
    if (a === undefined) return undefined;
    return tensorType(data.dtype, [...data.shape.slice(0, a), ...indices, ...data.shape.slice(a + 1)]);
  },
  value: (ctx): SymbolicValue | undefined => {
    const v = ctx.value(0);
    const idx = ctx.value(1);
    const nums = ctx.numbers(1);
    if (!v || v.scalar || !idx || !nums) return undefined;
    const n = v.values.length;
    if (nums.some((i) => i < -n || i >= n)) return undefined;
    return { values: nums.map((i) => v.values[i < 0 ? i + n : i]!), scalar: idx.scalar };
  },
};
