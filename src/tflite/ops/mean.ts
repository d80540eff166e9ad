/** MEAN over constant axes (keep_dims) → ONNX ReduceMean (axes as an attribute: opset ≤ 17). */
import { REDUCER_OPTIONS as O } from '../schema.ts';
import type { TfliteImporter } from './op.ts';

export const mean: TfliteImporter = {
  builtin: 'MEAN',
  convert(ctx, op) {
    const axes = ctx.ints(op.inputs[1]!);
    const keepdims = op.options?.bool(O.keepDims) ? 1 : 0;
    ctx.define(op.outputs[0]!, ctx.b.op('ReduceMean', [ctx.value(op.inputs[0]!)], { axes, keepdims }));
  },
};
