import type { Dim } from '../../ir.ts';
import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** OneHot: indices' shape with `depth` inserted at `axis`; type of `values`. */
export const OneHot: ShapeRule = {
  op: 'OneHot',
  infer: (ctx) => {
    const dtype = ctx.dtype(2);
    const idx = ctx.shape(0);
    if (!dtype) return undefined;
    if (!idx) return tensorType(dtype);
    const c = ctx.constant(1);
    const depth: Dim =
      c && c.data.length === 1 && c.dtype !== 'string' ? Number((c.data as ArrayLike<number | bigint>)[0]) : null;
    const a = normAxis(ctx.int('axis', -1), idx.length + 1);
    if (a === undefined) return undefined;
    const out = [...idx];
    out.splice(a, 0, depth);
    return tensorType(dtype, out);
  },
};
