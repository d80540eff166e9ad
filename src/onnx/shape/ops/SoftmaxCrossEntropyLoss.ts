import { tensorType, type ShapeRule } from '../rule.ts';

/** SoftmaxCrossEntropyLoss(scores [N, C, d...], labels [N, d...]): loss [N, d...] for reduction 'none', else a scalar; log_prob like scores. */
export const SoftmaxCrossEntropyLoss: ShapeRule = {
  op: 'SoftmaxCrossEntropyLoss',
  infer: (ctx) => {
    const scores = ctx.input(0);
    if (!scores) return undefined;
    const none = ctx.string('reduction', 'mean') === 'none';
    const labels = ctx.shape(1) ?? (scores.shape ? [scores.shape[0]!, ...scores.shape.slice(2)] : undefined);
    return [tensorType(scores.dtype, none ? labels : []), tensorType(scores.dtype, scores.shape)];
  },
};
