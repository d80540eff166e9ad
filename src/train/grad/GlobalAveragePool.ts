import type { GradRule } from './rule.ts';

/** dX = dY / (spatial size), broadcast over the spatial dims. */
export const GlobalAveragePool: GradRule = {
  op: 'GlobalAveragePool',
  grad: (c) => {
    const x = c.input(0);
    const s = c.shape(x);
    if (s.dynamic.slice(2).some(Boolean)) c.fail('spatial sizes must not vary with the batch');
    const area = s.dims.slice(2).reduce((a, b) => a * b, 1);
    return [c.op('Expand', [c.op('Mul', [c.dy(), c.scalar(1 / area)]), c.shapeOf(x)])];
  },
};
