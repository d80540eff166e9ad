import type { GradRule } from './rule.ts';

/** d erf(x)/dx = 2/√π · exp(−x²). */
export const Erf: GradRule = {
  op: 'Erf',
  grad: (c) => {
    const x = c.input(0);
    const e = c.op('Exp', [c.op('Neg', [c.op('Mul', [x, x])])]);
    return [c.op('Mul', [c.dy(), c.op('Mul', [e, c.scalar(2 / Math.sqrt(Math.PI))])])];
  },
};
