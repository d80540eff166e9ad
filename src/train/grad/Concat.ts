import type { GradRule } from './rule.ts';

/**
 * dY split back along the concat axis into the inputs' sizes (static from the probe), or into
 * equal parts where the axis follows the batch but every input has the same shape (the [B, H]
 * steps an unrolled recurrent layer stacks as rows).
 */
export const Concat: GradRule = {
  op: 'Concat',
  grad: (c) => {
    const rank = c.rank(c.output(0));
    const axis = c.axis(c.attrInt('axis', 0), rank);
    const shapes = c.node.inputs.map((x) => c.shape(x));
    const n = shapes.length;
    let parts: string[];
    if (shapes.some((s) => s.dynamic[axis])) {
      const same = (a: (typeof shapes)[number]) =>
        a.dims.join() === shapes[0]!.dims.join() && a.dynamic.join() === shapes[0]!.dynamic.join();
      if (!shapes.every(same)) c.fail('concat axis size varies with the batch');
      parts = c.g.node('Split', [c.dy()], { axis, ...(c.opset >= 18 ? { num_outputs: n } : {}) }, { outputs: n });
    } else {
      const sizes = shapes.map((s) => s.dims[axis]!);
      parts = c.g.node('Split', [c.dy(), c.ints(sizes)], { axis }, { outputs: n });
    }
    return parts.map((p, i) => (c.needsGrad(i) ? p : undefined));
  },
};
