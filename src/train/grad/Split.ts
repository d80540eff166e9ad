import type { GradRule } from './rule.ts';

/** dX = Concat of the outputs' gradients (zeros for outputs that receive none). */
export const Split: GradRule = {
  op: 'Split',
  grad: (c) => {
    const axis = c.axis(c.attrInt('axis', 0), c.rank(c.input(0)));
    const parts = c.node.outputs.map((_, i) => c.dy(i));
    return [parts.length === 1 ? parts[0] : c.op('Concat', parts, { axis })];
  },
};
