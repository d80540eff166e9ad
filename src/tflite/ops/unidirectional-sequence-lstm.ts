/**
 * UNIDIRECTIONAL_SEQUENCE_LSTM → ONNX LSTM. TFLite keeps one weight tensor per gate (input,
 * forget, cell, output) for the input and the recurrent weights; ONNX stacks them as W [1, 4H, in],
 * R [1, 4H, H] in the order i, o, f, c, with B [1, 8H] (input biases, then recurrent ones: zero
 * here, TFLite has one bias per gate). Peepholes map to P [1, 3H] (i, o, f). CIFG (no input gate),
 * projection and layer normalization have no ONNX LSTM equivalent and are refused by name. A
 * cell clip (TFLite clamps the cell state after each step) has none either — ONNX's `clip` clamps
 * the gates' pre-activations, 5e-4 apart on trained_lstm — so such an LSTM is unrolled into
 * standard ops instead (nn's emitRecurrent with `cellClip`).
 */
import { VergeError } from '../../errors.ts';
import { emitRecurrent, type RecurrentSpec } from '../../nn/index.ts';
import type { ImportContext } from '../context.ts';
import type { TfliteOperator } from '../read.ts';
import { ACTIVATION, UNIDIRECTIONAL_SEQUENCE_LSTM_OPTIONS as O } from '../schema.ts';
import { optionalInput, type TfliteImporter } from './op.ts';

/** TFLite input indices of the gate tensors, in ONNX's gate order i, o, f, c. */
const INPUT_WEIGHTS = [1, 4, 2, 3];
const RECURRENT_WEIGHTS = [5, 8, 6, 7];
const BIASES = [12, 15, 13, 14];
/** Peepholes: cell-to-input, -output, -forget (ONNX order i, o, f). */
const PEEPHOLES = [9, 11, 10];
const PROJECTION_WEIGHTS = 16;
const LAYER_NORM = [20, 21, 22, 23];

function floats(ctx: ImportContext, index: number): Float32Array {
  const c = ctx.constant(index);
  const q = ctx.tensor(index).quantization;
  if (c.dtype !== 'float32' || q)
    throw new VergeError('E_UNSUPPORTED', 'UNIDIRECTIONAL_SEQUENCE_LSTM: only float32 weights are supported');
  return c.values as Float32Array;
}

function stacked(ctx: ImportContext, op: TfliteOperator, indices: number[]): Float32Array {
  const parts = indices.map((i) => floats(ctx, op.inputs[i]!));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

function check(op: TfliteOperator): void {
  const missing = (i: number) => optionalInput(op, i) === undefined;
  if (missing(1))
    throw new VergeError(
      'E_UNSUPPORTED',
      'UNIDIRECTIONAL_SEQUENCE_LSTM with coupled input-forget gates (CIFG) is not supported',
    );
  if (!missing(PROJECTION_WEIGHTS))
    throw new VergeError('E_UNSUPPORTED', 'UNIDIRECTIONAL_SEQUENCE_LSTM with a projection layer is not supported');
  if (LAYER_NORM.some((i) => !missing(i)))
    throw new VergeError('E_UNSUPPORTED', 'UNIDIRECTIONAL_SEQUENCE_LSTM with layer normalization is not supported');
}

export const unidirectionalSequenceLstm: TfliteImporter = {
  builtin: 'UNIDIRECTIONAL_SEQUENCE_LSTM',
  convert(ctx, op) {
    check(op);
    const o = op.options;
    if ((o?.int8(O.activation) ?? ACTIVATION.TANH) !== ACTIVATION.TANH)
      throw new VergeError('E_UNSUPPORTED', 'UNIDIRECTIONAL_SEQUENCE_LSTM: only the tanh cell activation is supported');
    const [hidden, inFeatures] = ctx.tensor(op.inputs[1]!).shape as [number, number];
    const b = ctx.b;
    const W = b.initializer('lstm_W', 'float32', [1, 4 * hidden, inFeatures], stacked(ctx, op, INPUT_WEIGHTS));
    const R = b.initializer('lstm_R', 'float32', [1, 4 * hidden, hidden], stacked(ctx, op, RECURRENT_WEIGHTS));
    const bias = new Float32Array(8 * hidden);
    bias.set(stacked(ctx, op, BIASES));
    const B = b.initializer('lstm_B', 'float32', [1, 8 * hidden], bias);
    const peep = PEEPHOLES.every((i) => optionalInput(op, i) !== undefined)
      ? b.initializer('lstm_P', 'float32', [1, 3 * hidden], stacked(ctx, op, PEEPHOLES))
      : '';
    const timeMajor = o?.bool(O.timeMajor) ?? false;
    const cellClip = o?.float32(O.cellClip) ?? 0;
    if (cellClip > 0) {
      // TFLite clamps the cell state; ONNX LSTM's `clip` clamps the gates' inputs: unrolled ops instead
      const seqLen = ctx.tensor(op.inputs[0]!).shape[timeMajor ? 0 : 1]!;
      const spec = { cell: 'LSTM' as const, hidden, seqLen, layout: timeMajor ? 0 : 1, direction: 'forward' as const };
      const io = { X: ctx.value(op.inputs[0]!), W, R, B, ...(peep ? { P: peep } : {}) };
      const { Y } = emitRecurrent(b, { ...spec, cellClip } as RecurrentSpec, io, { Y: true });
      // Y: [T, 1, B, H] (time-major) or [B, T, 1, H]: drop the directions axis
      ctx.define(op.outputs[0]!, b.op('Squeeze', [Y!, b.constInt64([timeMajor ? 1 : 2])]));
      return;
    }
    let x = ctx.value(op.inputs[0]!);
    if (!timeMajor) x = b.op('Transpose', [x], { perm: [1, 0, 2] });
    const [y] = b.node('LSTM', [x, W, R, B, '', '', '', ...(peep ? [peep] : [])], { hidden_size: hidden });
    let out = b.op('Squeeze', [y!, b.constInt64([1])]);
    if (!timeMajor) out = b.op('Transpose', [out], { perm: [1, 0, 2] });
    ctx.define(op.outputs[0]!, out);
  },
};
