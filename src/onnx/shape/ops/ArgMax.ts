import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** ArgMax: int64 indices; `axis` reduced (kept as 1 unless keepdims=0). */
export const ArgMax: ShapeRule = {
  op: 'ArgMax',
  infer: (ctx) => {
    const shape = ctx.shape(0);
    if (!shape) return tensorType('int64');
    const a = normAxis(ctx.int('axis', 0), shape.length);
    if (a === undefined) return undefined;
    const keep = ctx.int('keepdims', 1) === 1;
    return tensorType('int64', keep ? shape.map((d, i) => (i === a ? 1 : d)) : shape.filter((_, i) => i !== a));
  },
};
