import type { GradRule } from './rule.ts';

/** Y = cond ? A : B: the gradient goes to the selected side. */
export const Where: GradRule = {
  op: 'Where',
  grad: (c) => {
    const zero = c.scalar(0);
    return [
      undefined,
      c.needsGrad(1) ? c.sumToShape(c.op('Where', [c.input(0), c.dy(), zero]), c.input(1)) : undefined,
      c.needsGrad(2) ? c.sumToShape(c.op('Where', [c.input(0), zero, c.dy()]), c.input(2)) : undefined,
    ];
  },
};
