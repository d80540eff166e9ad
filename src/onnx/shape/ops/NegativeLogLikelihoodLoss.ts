import { tensorType, type ShapeRule } from '../rule.ts';

/** NegativeLogLikelihoodLoss(input [N, C, d...], target [N, d...]): [N, d...] for reduction 'none', else a scalar. */
export const NegativeLogLikelihoodLoss: ShapeRule = {
  op: 'NegativeLogLikelihoodLoss',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const none = ctx.string('reduction', 'mean') === 'none';
    const target = ctx.shape(1) ?? (x.shape ? [x.shape[0]!, ...x.shape.slice(2)] : undefined);
    return tensorType(x.dtype, none ? target : []);
  },
};
