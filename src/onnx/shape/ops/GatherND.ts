import { tensorType, type ShapeRule } from '../rule.ts';

/** GatherND: indices.shape[:-1] + data.shape[batch_dims + indices.shape[-1]:]. */
export const GatherND: ShapeRule = {
  op: 'GatherND',
  infer: (ctx) => {
    const data = ctx.input(0);
    const idx = ctx.shape(1);
    if (!data) return undefined;
    const last = idx?.[idx.length - 1];
    if (!data.shape || !idx || typeof last !== 'number') return tensorType(data.dtype);
    const b = ctx.int('batch_dims', 0);
    return tensorType(data.dtype, [...idx.slice(0, -1), ...data.shape.slice(b + last)]);
  },
};
