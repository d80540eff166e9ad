/** GATHER along a constant axis → ONNX Gather (int32 indices are valid ONNX indices). */
import type { TfliteImporter } from './op.ts';

export const gather: TfliteImporter = {
  builtin: 'GATHER',
  convert(ctx, op) {
    const axis = op.options?.int32(0) ?? 0;
    ctx.define(op.outputs[0]!, ctx.b.op('Gather', [ctx.value(op.inputs[0]!), ctx.value(op.inputs[1]!)], { axis }));
  },
};
