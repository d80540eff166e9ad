import { tensorType, type ShapeContext, type ShapeRule } from '../rule.ts';

function scalar(ctx: ShapeContext, i: number): number | undefined {
  const c = ctx.constant(i);
  if (c && c.data.length === 1 && c.dtype !== 'string') return Number((c.data as ArrayLike<number | bigint>)[0]);
  return ctx.numbers(i)?.[0];
}

/** Range: 1-D of max(ceil((limit - start) / delta), 0) elements when the three scalars are known. */
export const Range: ShapeRule = {
  op: 'Range',
  infer: (ctx) => {
    const dtype = ctx.dtype(0) ?? ctx.dtype(1);
    if (!dtype) return undefined;
    const [start, limit, delta] = [scalar(ctx, 0), scalar(ctx, 1), scalar(ctx, 2)];
    if (start === undefined || limit === undefined || delta === undefined || delta === 0)
      return tensorType(dtype, [null]);
    return tensorType(dtype, [Math.max(Math.ceil((limit - start) / delta), 0)]);
  },
};
