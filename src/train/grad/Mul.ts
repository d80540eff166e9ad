import type { GradRule } from './rule.ts';

export const Mul: GradRule = {
  op: 'Mul',
  grad: (c) => [
    c.needsGrad(0) ? c.sumToShape(c.op('Mul', [c.dy(), c.input(1)]), c.input(0)) : undefined,
    c.needsGrad(1) ? c.sumToShape(c.op('Mul', [c.dy(), c.input(0)]), c.input(1)) : undefined,
  ],
};
