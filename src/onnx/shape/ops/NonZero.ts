import { tensorType, type ShapeRule } from '../rule.ts';

/** NonZero: int64 [rank, number of non-zeros] (the count is data-dependent). */
export const NonZero: ShapeRule = {
  op: 'NonZero',
  infer: (ctx) => tensorType('int64', [ctx.shape(0)?.length ?? null, null]),
};
