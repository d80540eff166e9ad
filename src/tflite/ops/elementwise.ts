/** ADD and MUL (with broadcasting and a fused activation) → ONNX Add / Mul. */
import type { ImportContext } from '../context.ts';
import type { TfliteOperator } from '../read.ts';
import { ELEMENTWISE_OPTIONS as O } from '../schema.ts';
import type { TfliteImporter } from './op.ts';

function binary(onnxOp: 'Add' | 'Mul', ctx: ImportContext, op: TfliteOperator): void {
  const y = ctx.b.op(onnxOp, [ctx.value(op.inputs[0]!), ctx.value(op.inputs[1]!)]);
  ctx.define(op.outputs[0]!, ctx.activation(y, op.options?.int8(O.activation) ?? 0, onnxOp));
}

export const add: TfliteImporter = { builtin: 'ADD', convert: (ctx, op) => binary('Add', ctx, op) };
export const mul: TfliteImporter = { builtin: 'MUL', convert: (ctx, op) => binary('Mul', ctx, op) };
