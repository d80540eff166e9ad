import type { GradRule } from './rule.ts';

/** dX = dY · (1 − Y²). */
export const Tanh: GradRule = {
  op: 'Tanh',
  grad: (c) => {
    const y = c.output(0);
    return [c.op('Mul', [c.dy(), c.op('Sub', [c.scalar(1), c.op('Mul', [y, y])])])];
  },
};
