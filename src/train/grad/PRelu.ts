import type { GradRule } from './rule.ts';

/** Y = x > 0 ? x : slope·x (slope broadcasts): dX = dY·(x > 0 ? 1 : slope); dSlope = Σ dY·min(x, 0). */
export const PRelu: GradRule = {
  op: 'PRelu',
  grad: (c) => {
    const [x, slope] = [c.input(0), c.input(1)];
    const positive = c.op('Greater', [x, c.scalar(0)]);
    return [
      c.needsGrad(0)
        ? c.sumToShape(c.op('Mul', [c.dy(), c.op('Where', [positive, c.scalar(1), slope])]), x)
        : undefined,
      c.needsGrad(1)
        ? c.sumToShape(c.op('Mul', [c.dy(), c.op('Where', [positive, c.scalar(0), x])]), slope)
        : undefined,
    ];
  },
};
