/** SLICE by constant begin and size (−1: to the end) → ONNX Slice with starts and ends. */
import type { TfliteImporter } from './op.ts';

export const slice: TfliteImporter = {
  builtin: 'SLICE',
  convert(ctx, op) {
    const shape = ctx.tensor(op.inputs[0]!).shape;
    const begin = ctx.ints(op.inputs[1]!);
    const ends = ctx.ints(op.inputs[2]!).map((n, i) => (n < 0 ? shape[i]! : begin[i]! + n));
    const b = ctx.b;
    ctx.define(op.outputs[0]!, b.op('Slice', [ctx.value(op.inputs[0]!), b.constInt64(begin), b.constInt64(ends)]));
  },
};
