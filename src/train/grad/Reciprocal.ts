import type { GradRule } from './rule.ts';

/** dX = −dY · Y². */
export const Reciprocal: GradRule = {
  op: 'Reciprocal',
  grad: (c) => {
    const y = c.output(0);
    return [c.op('Neg', [c.op('Mul', [c.dy(), c.op('Mul', [y, y])])])];
  },
};
