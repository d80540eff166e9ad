/** CONV_2D: NHWC input, OHWI weights → ONNX Conv on NCHW with OIHW weights. */
import { CONV_2D_OPTIONS as O } from '../schema.ts';
import { optionalInput, padding, type TfliteImporter } from './op.ts';

export const conv2d: TfliteImporter = {
  builtin: 'CONV_2D',
  convert(ctx, op) {
    const o = op.options!;
    const w = ctx.value(op.inputs[1]!, [0, 3, 1, 2]);
    const bias = optionalInput(op, 2);
    const inputs = [w, ...(bias !== undefined ? [ctx.value(bias)] : [])];
    const y = ctx.nchw(ctx.value(op.inputs[0]!), (x) =>
      ctx.b.op('Conv', [x, ...inputs], {
        strides: [o.int32(O.strideH, 1), o.int32(O.strideW, 1)],
        dilations: [o.int32(O.dilationH, 1), o.int32(O.dilationW, 1)],
        ...padding(o.int8(O.padding)),
      }),
    );
    ctx.define(op.outputs[0]!, ctx.activation(y, o.int8(O.activation), 'CONV_2D'));
  },
};
