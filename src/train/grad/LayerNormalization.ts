import type { GradRule } from './rule.ts';

/**
 * LayerNormalization (opset 17), rewritten into primitives for training (their rules give the
 * gradient): normalize over axes [axis, rank) with the sample's own statistics.
 */
export const LayerNormalization: GradRule = {
  op: 'LayerNormalization',
  trainingForward: (c) => {
    const x = c.input(0);
    const rank = c.rank(x);
    const axis = c.axis(c.attrInt('axis', -1), rank);
    const eps = c.attrFloat('epsilon', 1e-5);
    const axisList = Array.from({ length: rank - axis }, (_, i) => axis + i);
    const axes = c.ints(axisList);
    const mean_ = (v: string) =>
      c.opset >= 18
        ? c.op('ReduceMean', [v, axes], { keepdims: 1 })
        : c.op('ReduceMean', [v], { axes: axisList, keepdims: 1 });
    const mean = mean_(x);
    const xc = c.op('Sub', [x, mean]);
    const std = c.op('Sqrt', [c.op('Add', [mean_(c.op('Mul', [xc, xc])), c.scalar(eps)])]);
    let y = c.op('Mul', [c.op('Div', [xc, std]), c.input(1)]);
    if (c.has(2)) y = c.op('Add', [y, c.input(2)]);
    c.g.op('Identity', [y], {}, { output: c.output(0) });
    if (c.output(1)) c.g.op('Identity', [mean], {}, { output: c.output(1) });
    if (c.output(2)) c.g.op('Reciprocal', [std], {}, { output: c.output(2) });
  },
};
