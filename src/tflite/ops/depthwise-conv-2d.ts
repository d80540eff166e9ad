/** DEPTHWISE_CONV_2D: weights [1, H, W, C·multiplier] → ONNX grouped Conv (group = C) with [C·m, 1, H, W]. */
import { DEPTHWISE_CONV_2D_OPTIONS as O } from '../schema.ts';
import { optionalInput, padding, type TfliteImporter } from './op.ts';

export const depthwiseConv2d: TfliteImporter = {
  builtin: 'DEPTHWISE_CONV_2D',
  convert(ctx, op) {
    const o = op.options!;
    const input = ctx.tensor(op.inputs[0]!);
    const channels = input.shape[3]!;
    const w = ctx.value(op.inputs[1]!, [3, 0, 1, 2]);
    const bias = optionalInput(op, 2);
    const inputs = [w, ...(bias !== undefined ? [ctx.value(bias)] : [])];
    const y = ctx.nchw(ctx.value(op.inputs[0]!), (x) =>
      ctx.b.op('Conv', [x, ...inputs], {
        group: channels,
        strides: [o.int32(O.strideH, 1), o.int32(O.strideW, 1)],
        dilations: [o.int32(O.dilationH, 1), o.int32(O.dilationW, 1)],
        ...padding(o.int8(O.padding)),
      }),
    );
    ctx.define(op.outputs[0]!, ctx.activation(y, o.int8(O.activation), 'DEPTHWISE_CONV_2D'));
  },
};
