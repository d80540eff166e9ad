import type { GradRule } from './rule.ts';

/** Broadcasting add: each input gets dY summed over the axes it was broadcast along. */
export const Add: GradRule = {
  op: 'Add',
  grad: (c) => [
    c.needsGrad(0) ? c.sumToShape(c.dy(), c.input(0)) : undefined,
    c.needsGrad(1) ? c.sumToShape(c.dy(), c.input(1)) : undefined,
  ],
};
