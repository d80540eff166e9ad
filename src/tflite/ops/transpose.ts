/** TRANSPOSE by a constant permutation → ONNX Transpose (tensors keep TFLite's layout, so the permutation is the same). */
import type { TfliteImporter } from './op.ts';

export const transpose: TfliteImporter = {
  builtin: 'TRANSPOSE',
  convert(ctx, op) {
    const perm = ctx.ints(op.inputs[1]!);
    ctx.define(op.outputs[0]!, ctx.b.op('Transpose', [ctx.value(op.inputs[0]!)], { perm }));
  },
};
