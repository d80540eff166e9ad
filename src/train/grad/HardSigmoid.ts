import type { GradRule } from './rule.ts';

/** y = clamp(αx + β, 0, 1): dX = α·dY inside the linear part. */
export const HardSigmoid: GradRule = {
  op: 'HardSigmoid',
  grad: (c) => {
    const alpha = c.attrFloat('alpha', 0.2);
    const beta = c.attrFloat('beta', 0.5);
    const z = c.op('Add', [c.op('Mul', [c.input(0), c.scalar(alpha)]), c.scalar(beta)]);
    const inside = c.op('And', [c.op('Greater', [z, c.scalar(0)]), c.op('Less', [z, c.scalar(1)])]);
    return [c.op('Mul', [c.dy(), c.op('Mul', [c.toFloat(inside), c.scalar(alpha)])])];
  },
};
