import type { GradRule } from './rule.ts';

/** dX = dY · Y · (1 − Y), from the saved output. */
export const Sigmoid: GradRule = {
  op: 'Sigmoid',
  grad: (c) => {
    const y = c.output(0);
    return [c.op('Mul', [c.dy(), c.op('Mul', [y, c.op('Sub', [c.scalar(1), y])])])];
  },
};
