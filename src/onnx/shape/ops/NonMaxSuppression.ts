import { tensorType, type ShapeRule } from '../rule.ts';

/** NonMaxSuppression: int64 [selected (data-dependent), 3]. */
export const NonMaxSuppression: ShapeRule = {
  op: 'NonMaxSuppression',
  infer: () => tensorType('int64', [null, 3]),
};
