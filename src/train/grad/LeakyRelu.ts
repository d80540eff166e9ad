import type { GradRule } from './rule.ts';

export const LeakyRelu: GradRule = {
  op: 'LeakyRelu',
  grad: (c) => {
    const alpha = c.attrFloat('alpha', 0.01);
    const positive = c.op('Greater', [c.input(0), c.scalar(0)]);
    const slope = c.op('Where', [positive, c.scalar(1), c.scalar(alpha)]);
    return [c.op('Mul', [c.dy(), slope])];
  },
};
