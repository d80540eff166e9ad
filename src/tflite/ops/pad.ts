/** PAD with a constant [rank, 2] paddings tensor → ONNX Pad (zeros; a quantized tensor's zero is its zero point). */
import type { TfliteImporter } from './op.ts';

export const pad: TfliteImporter = {
  builtin: 'PAD',
  convert(ctx, op) {
    const p = ctx.ints(op.inputs[1]!);
    const rank = p.length / 2;
    const pads = [
      ...Array.from({ length: rank }, (_, i) => p[2 * i]!),
      ...Array.from({ length: rank }, (_, i) => p[2 * i + 1]!),
    ];
    ctx.define(op.outputs[0]!, ctx.b.op('Pad', [ctx.value(op.inputs[0]!), ctx.b.constInt64(pads)]));
  },
};
