import type { GradRule } from './rule.ts';

/** Y = A / B: dA = dY / B; dB = −dY · Y / B (reuses the forward output, no B² pass). */
export const Div: GradRule = {
  op: 'Div',
  grad: (c) => {
    const dA = c.op('Div', [c.dy(), c.input(1)]);
    return [
      c.needsGrad(0) ? c.sumToShape(dA, c.input(0)) : undefined,
      c.needsGrad(1) ? c.op('Neg', [c.sumToShape(c.op('Mul', [dA, c.output(0)]), c.input(1))]) : undefined,
    ];
  },
};
