import type { GradRule } from './rule.ts';
import { reduceAxes } from './reduce.ts';

/** dX = dY broadcast back over the reduced axes. */
export const ReduceSum: GradRule = {
  op: 'ReduceSum',
  grad: (c) => {
    const axes = reduceAxes(c, 13);
    if (axes.length === 0) return [c.dy()];
    let dy = c.dy();
    if (c.attrInt('keepdims', 1) === 0) dy = c.op('Unsqueeze', [dy, c.ints(axes)]);
    return [c.op('Expand', [dy, c.shapeOf(c.input(0))])];
  },
};
