/** AVERAGE_POOL_2D and MAX_POOL_2D → ONNX AveragePool / MaxPool on NCHW (TFLite's average excludes padding, as ONNX's default). */
import type { ImportContext } from '../context.ts';
import type { TfliteOperator } from '../read.ts';
import { POOL_2D_OPTIONS as O } from '../schema.ts';
import { padding, type TfliteImporter } from './op.ts';

function pool(onnxOp: 'AveragePool' | 'MaxPool', ctx: ImportContext, op: TfliteOperator): void {
  const o = op.options!;
  const y = ctx.nchw(ctx.value(op.inputs[0]!), (x) =>
    ctx.b.op(onnxOp, [x], {
      kernel_shape: [o.int32(O.filterH), o.int32(O.filterW)],
      strides: [o.int32(O.strideH, 1), o.int32(O.strideW, 1)],
      ...padding(o.int8(O.padding)),
    }),
  );
  ctx.define(op.outputs[0]!, ctx.activation(y, o.int8(O.activation), onnxOp));
}

export const averagePool2d: TfliteImporter = {
  builtin: 'AVERAGE_POOL_2D',
  convert: (ctx, op) => pool('AveragePool', ctx, op),
};

export const maxPool2d: TfliteImporter = {
  builtin: 'MAX_POOL_2D',
  convert: (ctx, op) => pool('MaxPool', ctx, op),
};
