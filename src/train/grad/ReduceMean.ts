import type { GradRule } from './rule.ts';
import { reduceAxes } from './reduce.ts';

/** dX = dY / count broadcast back over the reduced axes. */
export const ReduceMean: GradRule = {
  op: 'ReduceMean',
  grad: (c) => {
    const axes = reduceAxes(c, 18);
    if (axes.length === 0) return [c.dy()];
    const s = c.shape(c.input(0));
    let dy = c.dy();
    if (c.attrInt('keepdims', 1) === 0) dy = c.op('Unsqueeze', [dy, c.ints(axes)]);
    let scaled: string;
    if (axes.some((a) => s.dynamic[a])) {
      const n = c.op('ReduceProd', [c.op('Gather', [c.op('Shape', [c.input(0)]), c.ints(axes)])], { keepdims: 0 });
      scaled = c.op('Div', [dy, c.toFloat(n)]);
    } else {
      const count = axes.reduce((p, a) => p * s.dims[a]!, 1);
      scaled = c.op('Mul', [dy, c.scalar(1 / count)]);
    }
    return [c.op('Expand', [scaled, c.shapeOf(c.input(0))])];
  },
};
