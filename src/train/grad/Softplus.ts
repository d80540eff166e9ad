import type { GradRule } from './rule.ts';

/** d log(1 + eˣ)/dx = σ(x). */
export const Softplus: GradRule = {
  op: 'Softplus',
  grad: (c) => [c.op('Mul', [c.dy(), c.op('Sigmoid', [c.input(0)])])],
};
