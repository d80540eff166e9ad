import type { GradRule } from './rule.ts';

/** Exact GELU: d/dx x·Φ(x) = Φ(x) + x·φ(x); tanh approximation differentiated in closed form. */
export const Gelu: GradRule = {
  op: 'Gelu',
  grad: (c) => {
    const x = c.input(0);
    if (c.attrString('approximate', 'none') === 'tanh') {
      // y = 0.5x(1 + tanh(u)), u = k(x + 0.044715x³), k = √(2/π)
      const k = Math.sqrt(2 / Math.PI);
      const x2 = c.op('Mul', [x, x]);
      const u = c.op('Mul', [
        c.op('Mul', [x, c.op('Add', [c.scalar(1), c.op('Mul', [x2, c.scalar(0.044715)])])]),
        c.scalar(k),
      ]);
      const t = c.op('Tanh', [u]);
      const du = c.op('Mul', [c.op('Add', [c.scalar(1), c.op('Mul', [x2, c.scalar(3 * 0.044715)])]), c.scalar(k)]);
      const sech2 = c.op('Sub', [c.scalar(1), c.op('Mul', [t, t])]);
      const d = c.op('Add', [
        c.op('Mul', [c.scalar(0.5), c.op('Add', [c.scalar(1), t])]),
        c.op('Mul', [c.op('Mul', [c.scalar(0.5), x]), c.op('Mul', [sech2, du])]),
      ]);
      return [c.op('Mul', [c.dy(), d])];
    }
    const cdf = c.op('Mul', [
      c.scalar(0.5),
      c.op('Add', [c.scalar(1), c.op('Erf', [c.op('Mul', [x, c.scalar(Math.SQRT1_2)])])]),
    ]);
    const pdf = c.op('Mul', [
      c.op('Exp', [c.op('Mul', [c.op('Mul', [x, x]), c.scalar(-0.5)])]),
      c.scalar(1 / Math.sqrt(2 * Math.PI)),
    ]);
    return [c.op('Mul', [c.dy(), c.op('Add', [cdf, c.op('Mul', [x, pdf])])])];
  },
};
