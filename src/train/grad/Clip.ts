import type { GradRule } from './rule.ts';

/** Gradient passes where min ≤ x ≤ max (PyTorch's clamp convention); none to min/max. */
export const Clip: GradRule = {
  op: 'Clip',
  grad: (c) => {
    const x = c.input(0);
    let mask: string | undefined;
    const lo = c.has(1) ? c.input(1) : c.attr('min') ? c.scalar(c.attrFloat('min', 0)) : undefined;
    const hi = c.has(2) ? c.input(2) : c.attr('max') ? c.scalar(c.attrFloat('max', 0)) : undefined;
    if (lo) mask = c.op('GreaterOrEqual', [x, lo]);
    if (hi) {
      const m = c.op('LessOrEqual', [x, hi]);
      mask = mask ? c.op('And', [mask, m]) : m;
    }
    if (!mask) return [c.dy()];
    return [c.op('Mul', [c.dy(), c.toFloat(mask)])];
  },
};
