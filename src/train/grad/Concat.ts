import type { GradRule } from './rule.ts';

/** dY split back along the concat axis into the inputs' sizes (static from the probe). */
export const Concat: GradRule = {
  op: 'Concat',
  grad: (c) => {
    const rank = c.rank(c.output(0));
    const axis = c.axis(c.attrInt('axis', 0), rank);
    const sizes = c.node.inputs.map((x) => {
      const s = c.shape(x);
      if (s.dynamic[axis]) c.fail('concat axis size varies with the batch');
      return s.dims[axis]!;
    });
    const parts = c.g.node('Split', [c.dy(), c.ints(sizes)], { axis }, { outputs: sizes.length });
    return parts.map((p, i) => (c.needsGrad(i) ? p : undefined));
  },
};
