import type { GradRule } from './rule.ts';

/** y = x·clamp(x/6 + 1/2, 0, 1): dX = dY·(x < −3 ? 0 : x > 3 ? 1 : x/3 + 1/2). */
export const HardSwish: GradRule = {
  op: 'HardSwish',
  grad: (c) => {
    const x = c.input(0);
    const mid = c.op('Add', [c.op('Mul', [x, c.scalar(1 / 3)]), c.scalar(0.5)]);
    const slope = c.op('Where', [
      c.op('Less', [x, c.scalar(-3)]),
      c.scalar(0),
      c.op('Where', [c.op('Greater', [x, c.scalar(3)]), c.scalar(1), mid]),
    ]);
    return [c.op('Mul', [c.dy(), slope])];
  },
};
