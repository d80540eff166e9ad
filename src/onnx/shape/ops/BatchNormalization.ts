import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * BatchNormalization: Y has X's shape. Extra outputs (training: running mean/var; before opset 9
 * also saved mean/var) have the [C] shape of the mean and variance inputs.
 */
export const BatchNormalization: ShapeRule = {
  op: 'BatchNormalization',
  infer: (ctx) => {
    const x = ctx.input(0);
    const stat = ctx.input(3) ?? ctx.input(1);
    const channel = x?.shape && x.shape.length > 1 ? [x.shape[1]!] : stat?.shape;
    const statType = stat ? tensorType(stat.dtype, channel) : undefined;
    return [x && tensorType(x.dtype, x.shape), statType, statType, statType, statType];
  },
};
