/**
 * Optimizers as graph fragments: the update of every parameter (and of its optimizer state) is
 * emitted into the training graph, so one onnxruntime call does forward, backward and update.
 * Formulas follow PyTorch's torch.optim (SGD with dampening 0, Adam/AdamW with bias correction)
 * so a step here matches a step there.
 */
import { VergeError } from '../errors.ts';
import { type GraphBuilder, dtypeCode, type DType } from '../onnx/browser.ts';
import type { OptimizerKind } from './names.ts';

export { OPTIMIZER_KINDS, type OptimizerKind } from './names.ts';

export interface OptimizerOptions {
  kind: OptimizerKind;
  /** Default learning rate when step() is not given one. PyTorch defaults: sgd 0.01 (no default there), adam 1e-3. */
  lr?: number;
  momentum?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient (sgd, adam) or decoupled decay (adamw; default 0.01 as in PyTorch). */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** PyTorch's defaults for Adam/AdamW. */
export const ADAM_DEFAULTS = Object.freeze({ beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const);
export const ADAMW_DEFAULT_WEIGHT_DECAY = 0.01;

export interface ParamGrad {
  name: string;
  grad: string;
  dtype: DType;
  dims: number[];
}

export interface OptimizerSlot {
  /** Graph input holding the slot's current value, and the output holding its next value. */
  input: string;
  output: string;
  dtype: DType;
  dims: number[];
  param: string;
  kind: 'momentum' | 'exp_avg' | 'exp_avg_sq';
}

export interface OptimizerNodes {
  /** param name → output holding its updated value. */
  updated: Map<string, string>;
  slots: OptimizerSlot[];
}

export function defaultLearningRate(o: OptimizerOptions): number {
  return o.lr ?? (o.kind === 'sgd' ? 0.01 : 1e-3);
}

export function appendOptimizer(
  g: GraphBuilder,
  params: ParamGrad[],
  opt: OptimizerOptions,
  lrInput: string,
  stepInput: string,
  clipNorm?: number,
): OptimizerNodes {
  if (!['sgd', 'adam', 'adamw'].includes(opt.kind)) {
    throw new VergeError('E_BAD_ARGUMENT', `unknown optimizer '${opt.kind}' (expected sgd, adam, adamw)`);
  }
  const op = (t: string, i: string[], a: Parameters<GraphBuilder['op']>[2] = {}) => g.op(t, i, a);
  const f32 = (v: number) => g.scalar(v, 'float32', 'opt_c');
  const updated = new Map<string, string>();
  const slots: OptimizerSlot[] = [];
  const slot = (p: ParamGrad, kind: OptimizerSlot['kind']): string => {
    const input = g.uniqueName(`${p.name}.${kind}`);
    const output = g.uniqueName(`${p.name}.${kind}.next`);
    g.graph.inputs.push({ name: input, type: { kind: 'tensor', dtype: p.dtype, shape: [...p.dims] } });
    slots.push({ input, output, dtype: p.dtype, dims: p.dims, param: p.name, kind });
    return input;
  };
  const cast = (v: string, dt: DType) => (dt === 'float32' ? v : op('Cast', [v], { to: dtypeCode(dt) }));
  let grads = params.map((p) => p.grad);
  if (clipNorm !== undefined) {
    if (!(clipNorm > 0)) throw new VergeError('E_BAD_ARGUMENT', `clipNorm must be > 0, got ${clipNorm}`);
    // torch.nn.utils.clip_grad_norm_: scale = min(1, max_norm / (‖g‖₂ + 1e-6)).
    const squares = params.map((p) => cast(op('ReduceSumSquare', [p.grad], { keepdims: 0 }), 'float32'));
    const total = op('Sqrt', [squares.length === 1 ? squares[0]! : op('Sum', squares)]);
    const scale = op('Min', [f32(1), op('Div', [f32(clipNorm), op('Add', [total, f32(1e-6)])])]);
    grads = params.map((p) => op('Mul', [p.grad, cast(scale, p.dtype)]));
  }
  const wd = opt.weightDecay ?? (opt.kind === 'adamw' ? ADAMW_DEFAULT_WEIGHT_DECAY : 0);
  if (opt.kind === 'sgd') {
    const mu = opt.momentum ?? 0;
    if (opt.nesterov && mu <= 0) throw new VergeError('E_BAD_ARGUMENT', 'Nesterov momentum needs momentum > 0');
    params.forEach((p, i) => {
      const lr = cast(lrInput, p.dtype);
      const s = (v: number) => g.scalar(v, p.dtype, 'opt_c');
      let d = grads[i]!;
      if (wd) d = op('Add', [d, op('Mul', [p.name, s(wd)])]);
      if (mu > 0) {
        const buf = slot(p, 'momentum');
        const next = g.op('Add', [op('Mul', [buf, s(mu)]), d], {}, { output: slots[slots.length - 1]!.output });
        d = opt.nesterov ? op('Add', [d, op('Mul', [next, s(mu)])]) : next;
      }
      updated.set(p.name, op('Sub', [p.name, op('Mul', [d, lr])]));
    });
    return { updated, slots };
  }
  const b1 = opt.beta1 ?? ADAM_DEFAULTS.beta1;
  const b2 = opt.beta2 ?? ADAM_DEFAULTS.beta2;
  const eps = opt.eps ?? ADAM_DEFAULTS.eps;
  // Bias corrections from the step input: once per step, as scalars.
  const bc1 = op('Sub', [f32(1), op('Pow', [f32(b1), stepInput])]);
  const bc2 = op('Sub', [f32(1), op('Pow', [f32(b2), stepInput])]);
  const stepSize = op('Div', [lrInput, bc1]);
  const invSqrtBc2 = op('Reciprocal', [op('Sqrt', [bc2])]);
  params.forEach((p, i) => {
    const s = (v: number) => g.scalar(v, p.dtype, 'opt_c');
    let param = p.name;
    let d = grads[i]!;
    if (wd && opt.kind === 'adam') d = op('Add', [d, op('Mul', [param, s(wd)])]);
    if (wd && opt.kind === 'adamw')
      param = op('Mul', [param, op('Sub', [s(1), op('Mul', [cast(lrInput, p.dtype), s(wd)])])]);
    const m = slot(p, 'exp_avg');
    const mNext = g.op(
      'Add',
      [op('Mul', [m, s(b1)]), op('Mul', [d, s(1 - b1)])],
      {},
      { output: slots[slots.length - 1]!.output },
    );
    const v = slot(p, 'exp_avg_sq');
    const vNext = g.op(
      'Add',
      [op('Mul', [v, s(b2)]), op('Mul', [op('Mul', [d, d]), s(1 - b2)])],
      {},
      { output: slots[slots.length - 1]!.output },
    );
    const denom = op('Add', [op('Mul', [op('Sqrt', [vNext]), cast(invSqrtBc2, p.dtype)]), s(eps)]);
    updated.set(p.name, op('Sub', [param, op('Mul', [op('Div', [mNext, denom]), cast(stepSize, p.dtype)])]));
  });
  return { updated, slots };
}
