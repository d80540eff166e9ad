/** SOFTMAX(beta) over the last axis → ONNX Softmax of beta·x. */
import { SOFTMAX_OPTIONS as O } from '../schema.ts';
import type { TfliteImporter } from './op.ts';

export const softmax: TfliteImporter = {
  builtin: 'SOFTMAX',
  convert(ctx, op) {
    const beta = op.options?.float32(O.beta, 1) ?? 1;
    let x = ctx.value(op.inputs[0]!);
    if (beta !== 1) x = ctx.b.op('Mul', [x, ctx.b.scalar(beta, 'float32', 'softmax_beta')]);
    ctx.define(op.outputs[0]!, ctx.b.op('Softmax', [x], { axis: -1 }));
  },
};
