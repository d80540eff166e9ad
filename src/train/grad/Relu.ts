import type { GradRule } from './rule.ts';

/** dX = dY · step(Y). Sign(Y) is 0 or 1 on a ReLU output: one plain Mul, no bool tensor, no Where. */
export const Relu: GradRule = {
  op: 'Relu',
  grad: (c) => [c.op('Mul', [c.dy(), c.op('Sign', [c.output(0)])])],
};
