import type { GradRule } from './rule.ts';

/** dX = dY / (2·Y). */
export const Sqrt: GradRule = {
  op: 'Sqrt',
  grad: (c) => [c.op('Div', [c.dy(), c.op('Mul', [c.output(0), c.scalar(2)])])],
};
