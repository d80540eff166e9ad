import type { GradRule } from './rule.ts';

/** dX = Y · (dY − Σ(dY·Y)) along the softmax axis. */
export const Softmax: GradRule = {
  op: 'Softmax',
  grad: (c) => {
    const y = c.output(0);
    const rank = c.rank(y);
    if (c.opset < 13 && rank > 2) c.fail('opset < 13 softmax on rank > 2 (flattening semantics) is not supported');
    const axis = c.axis(c.attrInt('axis', c.opset < 13 ? 1 : -1), rank);
    const dyy = c.op('Mul', [c.dy(), y]);
    const s = c.op('ReduceSum', [dyy, c.ints([axis])], { keepdims: 1 });
    return [c.op('Sub', [dyy, c.op('Mul', [y, s])])];
  },
};
