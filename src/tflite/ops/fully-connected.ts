/** FULLY_CONNECTED: y = x·Wᵀ + b over the last dimension (W is [out, in]) → ONNX Gemm on a flattened input. */
import { VergeError } from '../../errors.ts';
import { FULLY_CONNECTED_OPTIONS as O } from '../schema.ts';
import { optionalInput, type TfliteImporter } from './op.ts';

export const fullyConnected: TfliteImporter = {
  builtin: 'FULLY_CONNECTED',
  convert(ctx, op) {
    const o = op.options;
    if (o && o.int8(O.weightsFormat) !== 0)
      throw new VergeError('E_UNSUPPORTED', 'FULLY_CONNECTED with shuffled weights is not supported');
    const weights = ctx.tensor(op.inputs[1]!);
    const inFeatures = weights.shape[1]!;
    const x = ctx.b.op('Reshape', [ctx.value(op.inputs[0]!), ctx.b.constInt64([-1, inFeatures])]);
    const bias = optionalInput(op, 2);
    const gemm = ctx.b.op('Gemm', [x, ctx.value(op.inputs[1]!), ...(bias !== undefined ? [ctx.value(bias)] : [])], {
      transB: 1,
    });
    let y = ctx.activation(gemm, o?.int8(O.activation) ?? 0, 'FULLY_CONNECTED');
    const out = ctx.tensor(op.outputs[0]!).shape;
    if (out.length !== 2) y = ctx.b.op('Reshape', [y, ctx.b.constInt64(out)]);
    ctx.define(op.outputs[0]!, y);
  },
};
