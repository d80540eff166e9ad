/** LOGISTIC, TANH, RELU, RELU6 → ONNX Sigmoid, Tanh, Relu, Clip(0, 6). */
import type { TfliteImporter } from './op.ts';

export const logistic: TfliteImporter = {
  builtin: 'LOGISTIC',
  convert: (ctx, op) => ctx.define(op.outputs[0]!, ctx.b.op('Sigmoid', [ctx.value(op.inputs[0]!)])),
};
export const tanh: TfliteImporter = {
  builtin: 'TANH',
  convert: (ctx, op) => ctx.define(op.outputs[0]!, ctx.b.op('Tanh', [ctx.value(op.inputs[0]!)])),
};
export const relu: TfliteImporter = {
  builtin: 'RELU',
  convert: (ctx, op) => ctx.define(op.outputs[0]!, ctx.b.op('Relu', [ctx.value(op.inputs[0]!)])),
};
export const relu6: TfliteImporter = {
  builtin: 'RELU6',
  convert: (ctx, op) => ctx.define(op.outputs[0]!, ctx.clip(ctx.value(op.inputs[0]!), 0, 6)),
};
