/** CONCATENATION(axis) with a fused activation → ONNX Concat. */
import { CONCATENATION_OPTIONS as O } from '../schema.ts';
import type { TfliteImporter } from './op.ts';

export const concatenation: TfliteImporter = {
  builtin: 'CONCATENATION',
  convert(ctx, op) {
    const o = op.options!;
    const y = ctx.b.op(
      'Concat',
      op.inputs.map((i) => ctx.value(i)),
      { axis: o.int32(O.axis) },
    );
    ctx.define(op.outputs[0]!, ctx.activation(y, o.int8(O.activation), 'CONCATENATION'));
  },
};
