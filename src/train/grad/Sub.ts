import type { GradRule } from './rule.ts';

export const Sub: GradRule = {
  op: 'Sub',
  grad: (c) => [
    c.needsGrad(0) ? c.sumToShape(c.dy(), c.input(0)) : undefined,
    c.needsGrad(1) ? c.op('Neg', [c.sumToShape(c.dy(), c.input(1))]) : undefined,
  ],
};
