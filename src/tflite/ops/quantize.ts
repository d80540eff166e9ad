/**
 * QUANTIZE and DEQUANTIZE. Values are floats between operators in the converted graph (see
 * ../context.ts), so QUANTIZE is the rounding `define` applies with the output's scale, and
 * DEQUANTIZE passes the (already dequantized or float16-widened) value on.
 */
import type { TfliteImporter } from './op.ts';

export const quantize: TfliteImporter = {
  builtin: 'QUANTIZE',
  convert: (ctx, op) => ctx.define(op.outputs[0]!, ctx.b.op('Identity', [ctx.value(op.inputs[0]!)])),
};
export const dequantize: TfliteImporter = {
  builtin: 'DEQUANTIZE',
  convert: (ctx, op) => ctx.define(op.outputs[0]!, ctx.b.op('Identity', [ctx.value(op.inputs[0]!)])),
};
