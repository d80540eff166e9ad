/** RESHAPE → ONNX Reshape to the output tensor's declared shape (TFLite tensors carry static shapes). */
import type { TfliteImporter } from './op.ts';

export const reshape: TfliteImporter = {
  builtin: 'RESHAPE',
  convert(ctx, op) {
    const shape = ctx.tensor(op.outputs[0]!).shape;
    ctx.define(op.outputs[0]!, ctx.b.op('Reshape', [ctx.value(op.inputs[0]!), ctx.b.constInt64(shape)]));
  },
};
