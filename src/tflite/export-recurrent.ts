/**
 * ONNX LSTM and GRU (forward, default activations) → TFLite, unrolled over the (static) time steps
 * into SLICE (the step's input), FULLY_CONNECTED (one per gate for the input, one per gate for the
 * previous hidden state), ADD, MUL, LOGISTIC and TANH. TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM would
 * be one operator, but Arm NN 20.08's TFLite parser (Debian's libarmnn22) does not read it and
 * TFLite has no GRU builtin; these operators every reader runs. The last hidden state (Y_h) is
 * what verge's sequence models use; the full sequence (Y) and the cell state (Y_c) are refused
 * when a model reads them. (verge's GRU/LSTM layers that are not fused — the `gru` architecture —
 * are primitive ops already: ./export-fold.ts folds their parameter slicing, ./export-ops.ts
 * exports the rest.)
 *
 * ONNX gate order: LSTM i, o, f, c (W [1, 4H, D], R [1, 4H, H], B [1, 8H] = Wb then Rb); GRU
 * z, r, h (W [1, 3H, D], B [1, 6H]); GRU's linear_before_reset 1 is r ⊙ (R_h·h + Rb_h), 0 is
 * R_h·(r ⊙ h) + Rb_h.
 */
import { VergeError } from '../errors.ts';
import type { Node } from '../onnx/browser.ts';
import type { ExportContext } from './export-context.ts';
import { ACTIVATION, BUILTIN, ELEMENTWISE_OPTIONS, FULLY_CONNECTED_OPTIONS, OPTIONS_TYPE } from './schema.ts';

function unsupported(node: Node, why: string): VergeError {
  return new VergeError('E_UNSUPPORTED', `${node.opType} '${node.name || node.outputs[0]}': ${why}`);
}

const int8 = (slot: number, value: number) => ({ slot, kind: 'int8' as const, value });

/** The TFLite steps of one recurrent node, appended to `ctx`. */
class Unroller {
  private k = 0;
  constructor(
    private readonly ctx: ExportContext,
    private readonly node: Node,
    private readonly batch: number,
    private readonly hidden: number,
  ) {}

  private tensor(tag: string): number {
    return this.ctx.scratch(`${this.node.outputs[0] || this.node.name}_${tag}${this.k++}`, [this.batch, this.hidden]);
  }

  /** x·Wᵀ (+ b): W [H, in] rows `rows` of a stacked [G·H, in] matrix. */
  fc(x: number, w: Float32Array, inFeatures: number, gate: number, bias?: Float32Array): number {
    const H = this.hidden;
    // named by gate (and equal values): every step reads the one tensor (ExportContext.floatConstant)
    const weights = this.ctx.floatConstant(
      `${this.node.name}_w${gate}_${inFeatures}`,
      [H, inFeatures],
      w.slice(gate * H * inFeatures, (gate + 1) * H * inFeatures),
    );
    const inputs = [x, weights];
    if (bias) inputs.push(this.ctx.floatConstant(`${this.node.name}_b${gate}`, [H], bias));
    const y = this.tensor('fc');
    const fields = [
      int8(FULLY_CONNECTED_OPTIONS.activation, ACTIVATION.NONE),
      int8(FULLY_CONNECTED_OPTIONS.weightsFormat, 0),
    ];
    this.ctx.emit(BUILTIN.FULLY_CONNECTED, inputs, [y], { type: OPTIONS_TYPE.FullyConnectedOptions, fields });
    return y;
  }

  binary(builtin: number, a: number, b: number): number {
    const y = this.tensor(builtin === BUILTIN.ADD ? 'add' : 'mul');
    const type = builtin === BUILTIN.ADD ? OPTIONS_TYPE.AddOptions : OPTIONS_TYPE.MulOptions;
    this.ctx.emit(builtin, [a, b], [y], { type, fields: [int8(ELEMENTWISE_OPTIONS.activation, ACTIVATION.NONE)] });
    return y;
  }

  unary(builtin: number, x: number): number {
    const y = this.tensor(builtin === BUILTIN.TANH ? 'tanh' : 'sigmoid');
    this.ctx.emit(builtin, [x], [y]);
    return y;
  }

  /** −x (a MUL by −1: SUB is not among the operators verge reads back). */
  negate(x: number): number {
    return this.binary(
      BUILTIN.MUL,
      x,
      this.ctx.floatConstant(`${this.node.name}_minus_one`, [1], new Float32Array([-1])),
    );
  }
}

/** The checks and weights shared by LSTM and GRU. */
function recurrentInputs(ctx: ExportContext, node: Node, gates: number) {
  const a = node.attributes;
  const dir = a.direction?.type === 'string' ? a.direction.value : 'forward';
  if (dir !== 'forward') throw unsupported(node, `direction '${dir}' (only forward)`);
  if (a.activations || a.clip) throw unsupported(node, 'custom activations or a cell clip');
  if (a.layout?.type === 'int' && a.layout.value !== 0) throw unsupported(node, 'batch-major layout (layout 1)');
  if (node.inputs.slice(4).some((i) => i)) throw unsupported(node, 'sequence lengths, initial states or peepholes');
  if ([node.outputs[0], node.outputs[2]].some((o) => o && ctx.used(o)))
    throw unsupported(node, 'reading Y or Y_c (verge exports the last hidden state Y_h)');
  const [steps, batch, inFeatures] = ctx.shape(node.inputs[0]!) as [number, number, number];
  const W = ctx.constant(node.inputs[1]!).values;
  const R = ctx.constant(node.inputs[2]!).values;
  const hidden = W.length / (gates * inFeatures);
  const B = node.inputs[3] ? ctx.constant(node.inputs[3]).values : new Float32Array(2 * gates * hidden);
  const x = ctx.value(node.inputs[0]!);
  return { steps, batch, inFeatures, hidden, W, R, B, x: x.index };
}

/** The input of step t: SLICE [t, 0, 0] of size [1, batch, in] of the [steps, batch, in] input. */
function stepInput(ctx: ExportContext, node: Node, x: number, t: number, batch: number, inFeatures: number): number {
  const begin = ctx.intConstant(`${node.name}_begin${t}`, [3], [t, 0, 0]);
  const size = ctx.intConstant(`${node.name}_size`, [3], [1, batch, inFeatures]);
  const y = ctx.scratch(`${node.name}_x${t}`, [1, batch, inFeatures]);
  ctx.emit(BUILTIN.SLICE, [x, begin, size], [y]);
  return y;
}

/** Y_h [1, batch, H] from the last hidden state [batch, H]. */
function defineLastState(ctx: ExportContext, node: Node, h: number): void {
  const out = node.outputs[1]!;
  const shape = ctx.shape(out);
  const shapeT = ctx.intConstant(`${out}_shape`, [shape.length], shape);
  const y = ctx.define(out, false);
  ctx.emit(BUILTIN.RESHAPE, [h, shapeT], [y], {
    type: OPTIONS_TYPE.ReshapeOptions,
    fields: [{ slot: 0, kind: 'int32Vector', value: shape }],
  });
}

/** A gate's pre-activation: W_g·x + (Wb_g + Rb_g) + R_g·h (no recurrent term at step 0, where h = 0). */
function gate(
  u: Unroller,
  s: ReturnType<typeof recurrentInputs>,
  g: number,
  xt: number,
  h: number | undefined,
  withRb = true,
) {
  const { hidden: H, inFeatures, W, R, B } = s;
  const G = W.length / (H * inFeatures);
  const bias = B.slice(g * H, (g + 1) * H);
  if (withRb) for (let j = 0; j < H; j++) bias[j]! += B[G * H + g * H + j]!;
  const a = u.fc(xt, W, inFeatures, g, bias);
  return h === undefined ? a : u.binary(BUILTIN.ADD, a, u.fc(h, R, H, g));
}

function lstm(ctx: ExportContext, node: Node): void {
  const s = recurrentInputs(ctx, node, 4);
  if (node.attributes.input_forget?.type === 'int' && node.attributes.input_forget.value !== 0)
    throw unsupported(node, 'coupled input and forget gates (input_forget 1)');
  const u = new Unroller(ctx, node, s.batch, s.hidden);
  let h: number | undefined;
  let c: number | undefined;
  for (let t = 0; t < s.steps; t++) {
    const xt = stepInput(ctx, node, s.x, t, s.batch, s.inFeatures);
    // ONNX gate order i, o, f, c
    const i = u.unary(BUILTIN.LOGISTIC, gate(u, s, 0, xt, h));
    const o = u.unary(BUILTIN.LOGISTIC, gate(u, s, 1, xt, h));
    const cand = u.unary(BUILTIN.TANH, gate(u, s, 3, xt, h));
    const ic = u.binary(BUILTIN.MUL, i, cand);
    if (c === undefined) c = ic;
    else c = u.binary(BUILTIN.ADD, u.binary(BUILTIN.MUL, u.unary(BUILTIN.LOGISTIC, gate(u, s, 2, xt, h)), c), ic);
    h = u.binary(BUILTIN.MUL, o, u.unary(BUILTIN.TANH, c));
  }
  defineLastState(ctx, node, h!);
}

function gru(ctx: ExportContext, node: Node): void {
  const s = recurrentInputs(ctx, node, 3);
  const lbr = node.attributes.linear_before_reset?.type === 'int' && node.attributes.linear_before_reset.value === 1;
  const u = new Unroller(ctx, node, s.batch, s.hidden);
  const H = s.hidden;
  const Rbh = s.B.slice(5 * H, 6 * H);
  let h: number | undefined;
  for (let t = 0; t < s.steps; t++) {
    const xt = stepInput(ctx, node, s.x, t, s.batch, s.inFeatures);
    // ONNX gate order z, r, h
    const z = u.unary(BUILTIN.LOGISTIC, gate(u, s, 0, xt, h));
    let pre = gate(u, s, 2, xt, undefined, !lbr);
    if (h !== undefined) {
      const r = u.unary(BUILTIN.LOGISTIC, gate(u, s, 1, xt, h));
      // lbr: r ⊙ (R_h·h + Rb_h); else R_h·(r ⊙ h) (+ Rb_h, in the gate's bias)
      const rec = lbr
        ? u.binary(BUILTIN.MUL, r, u.fc(h, s.R, H, 2, Rbh))
        : u.fc(u.binary(BUILTIN.MUL, r, h), s.R, H, 2);
      pre = u.binary(BUILTIN.ADD, pre, rec);
    } else if (lbr) {
      // h = 0: r ⊙ Rb_h still adds, with r = σ(W_r·x + Wb_r + Rb_r)
      const r = u.unary(BUILTIN.LOGISTIC, gate(u, s, 1, xt, undefined));
      const rb = ctx.floatConstant(`${node.name}_rbh`, [H], Rbh);
      pre = u.binary(BUILTIN.ADD, pre, u.binary(BUILTIN.MUL, r, rb));
    }
    const n = u.unary(BUILTIN.TANH, pre);
    // h' = (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)
    h =
      h === undefined
        ? u.binary(BUILTIN.ADD, n, u.binary(BUILTIN.MUL, z, u.negate(n)))
        : u.binary(BUILTIN.ADD, n, u.binary(BUILTIN.MUL, z, u.binary(BUILTIN.ADD, h, u.negate(n))));
  }
  defineLastState(ctx, node, h!);
}

export const RECURRENT_EXPORTERS = Object.freeze([
  Object.freeze({ onnx: 'LSTM', export: lstm }),
  Object.freeze({ onnx: 'GRU', export: gru }),
]);
