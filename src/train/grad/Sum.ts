import type { GradRule } from './rule.ts';

/** n-ary broadcasting sum: every input gets dY summed back to its shape. */
export const Sum: GradRule = {
  op: 'Sum',
  grad: (c) => c.node.inputs.map((x, i) => (c.needsGrad(i) ? c.sumToShape(c.dy(), x) : undefined)),
};
