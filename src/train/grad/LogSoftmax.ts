import type { GradRule } from './rule.ts';

/** dX = dY − exp(Y) · Σ dY along the axis. */
export const LogSoftmax: GradRule = {
  op: 'LogSoftmax',
  grad: (c) => {
    const y = c.output(0);
    const rank = c.rank(y);
    if (c.opset < 13 && rank > 2) c.fail('opset < 13 log-softmax on rank > 2 (flattening semantics) is not supported');
    const axis = c.axis(c.attrInt('axis', c.opset < 13 ? 1 : -1), rank);
    const s = c.op('ReduceSum', [c.dy(), c.ints([axis])], { keepdims: 1 });
    return [c.op('Sub', [c.dy(), c.op('Mul', [c.op('Exp', [y]), s])])];
  },
};
