/**
 * The training model: forward (training mode) + loss + backward + optimizer update in ONE ONNX
 * graph. Parameters, running statistics and optimizer state are graph inputs whose next values
 * are graph outputs, so the caller keeps them as tensors between steps and never rebuilds the
 * graph; learning rate and step count are scalar inputs so schedules need no rebuild either.
 */
import { VergeError } from '../errors.ts';
import {
  cloneModel,
  GraphBuilder,
  tensorValueInfo,
  isFloat,
  type DType,
  type Model,
  type Tensor,
  dataInputs as graphDataInputs,
} from '../onnx/browser.ts';
import type { TensorValue } from '../runtime/index.ts';
import { atTrainingOpset, differentiate, knownConstants, lowerForTraining, opsetOf } from './autodiff.ts';
import { resolveFormulations, type Formulations } from './grad/formulations.ts';
import { appendLoss, type LossKind, type LossNodes } from './loss.ts';
import type { LossTerm, LossTermContext } from './loss-terms.ts';
import { appendOptimizer, type OptimizerOptions, type OptimizerSlot } from './optimizer.ts';
import { inferValueShapes, shapeOf, type ValueShape } from './shapes.ts';
import { importNchwcDomain } from './lower/nchwc.ts';

/** One tensor the training step reads and rewrites. */
export interface StateTensor {
  /** Graph input name (= the initializer's name for parameters and buffers). */
  input: string;
  /** Graph output holding the value after the step ('' for term inputs, which the step only reads). */
  output: string;
  dtype: DType;
  dims: number[];
  /** param/buffer/optimizer: rewritten by every step; term: an input of a loss term, only fed. */
  kind: 'param' | 'buffer' | 'optimizer' | 'term';
  /** For optimizer slots: the parameter they belong to. */
  param?: string;
  slot?: OptimizerSlot['kind'];
}

export interface TrainingGraphOptions {
  loss: LossKind;
  optimizer: OptimizerOptions;
  /** Model output the loss applies to (default: the first). */
  output?: string;
  frozen?: string[] | ((param: string) => boolean);
  clipNorm?: number;
  seed?: number;
  /** Extra terms added to the loss (regularizers, FedProx's proximal term; see loss-terms.ts). */
  lossTerms?: readonly LossTerm[];
  /** Gradient formulations (default: the measured winners, see grad/formulations.ts). */
  formulations?: Partial<Formulations>;
  /**
   * Per-class logit adjustment inside the loss (cross-entropy on [batch, classes] only): the loss
   * reads output · scale + offset, where scale and offset are [classes] tensors the session holds
   * (term inputs `LOGIT_SCALE`, `LOGIT_OFFSET`; 1 and 0 until set with session.setTensors), and the
   * gradient flows through the scale. Federated clients' label-skew corrections use it (FedRS's
   * restricted softmax, FedLC-style calibration: src/fl/label-skew.ts). Inference is unchanged.
   */
  logitAdjust?: boolean;
  /**
   * BatchNormalization in training mode (batch statistics, running statistics updated: the
   * default) or as at inference (running statistics, fixed). See grad/rule.ts TrainingModes.
   */
  trainBatchNorm?: boolean;
  /**
   * Emit the optimizer update as a second model (`TrainingGraph.update`) that takes the gradients
   * this graph outputs, instead of in this graph: data-parallel training (session.ts) runs this
   * graph on shards of a batch and the update once, on the combined gradients.
   */
  separateUpdate?: boolean;
}

/** The optimizer update as its own model (TrainingGraphOptions.separateUpdate). */
export interface UpdateGraph {
  /** Inputs: parameters, `grads`, optimizer slots, lr, step; outputs: the next parameters and slots. */
  model: Model;
  /** Parameter → the training graph's output holding its gradient (the update model's input of that name). */
  grads: Map<string, string>;
}

export interface TrainingGraph {
  model: Model;
  /** The forward model's data inputs (fed by the caller every step). */
  dataInputs: string[];
  labels: string;
  labelsDtype: DType;
  lr: string;
  step: string;
  loss: string;
  correct?: string;
  /** Loss term name → graph output holding its value. */
  terms: Record<string, string>;
  /** Initial values of the term inputs (state kind 'term'). */
  termValues: Map<string, TensorValue>;
  state: StateTensor[];
  /** Trained parameters (initializer names), in graph order. */
  parameters: string[];
  /** Float initializers left constant (frozen, or no gradient reaches them). */
  constants: string[];
  /**
   * With `separateUpdate`: the optimizer update (the parameters' and slots' next values are its
   * outputs; `lr` and `step` its inputs, not this model's).
   */
  update?: UpdateGraph;
}

/** Term inputs of `logitAdjust`: the per-class scale and offset of the logits the loss reads. */
export const LOGIT_SCALE = 'logit_scale';
export const LOGIT_OFFSET = 'logit_offset';

/**
 * The loss on `out` and its gradient with respect to `out`; with `adjust`, the loss on
 * out · scale + offset (scale, offset: [classes] term inputs) and d loss/d out = d loss/d adjusted · scale.
 */
function appendAdjustedLoss(
  g: GraphBuilder,
  kind: LossKind,
  out: string,
  s: ValueShape,
  adjust: boolean,
): { loss: LossNodes; grad: string; inputs: StateTensor[]; feeds: Map<string, TensorValue> } {
  if (!adjust) {
    const loss = appendLoss(g, kind, out, s);
    return { loss, grad: loss.grad, inputs: [], feeds: new Map() };
  }
  if (
    kind !== 'cross-entropy' ||
    s.dims.length !== 2 ||
    s.dynamic[1] ||
    !(s.dtype === 'float32' || s.dtype === 'float64')
  )
    throw new VergeError(
      'E_BAD_ARGUMENT',
      'logit adjustment needs a cross-entropy loss on float [batch, classes] logits',
    );
  const dims = [s.dims[1]!];
  const values = (v: number) => new (s.dtype === 'float64' ? Float64Array : Float32Array)(dims[0]!).fill(v);
  const feeds = new Map<string, TensorValue>([
    [LOGIT_SCALE, { dtype: s.dtype, dims, data: values(1) }],
    [LOGIT_OFFSET, { dtype: s.dtype, dims, data: values(0) }],
  ]);
  const inputs = [...feeds.keys()].map((name): StateTensor => {
    g.input(name, s.dtype, dims);
    return { input: name, output: '', dtype: s.dtype, dims, kind: 'term' };
  });
  const loss = appendLoss(g, kind, g.op('Add', [g.op('Mul', [out, LOGIT_SCALE]), LOGIT_OFFSET]), s);
  return { loss, grad: g.op('Mul', [loss.grad, LOGIT_SCALE]), inputs, feeds };
}

function isFrozen(frozen: TrainingGraphOptions['frozen'], name: string): boolean {
  if (!frozen) return false;
  return Array.isArray(frozen) ? frozen.includes(name) : frozen(name);
}

function outputName(model: Model, output?: string): string {
  const outs = model.graph.outputs.map((o) => o.name);
  if (outs.length === 0) throw new VergeError('E_GRAPH_INVALID', 'the model has no outputs to train');
  if (output === undefined) return outs[0]!;
  if (!outs.includes(output))
    throw new VergeError('E_BAD_ARGUMENT', `model has no output '${output}' (outputs: ${outs.join(', ')})`);
  return output;
}

function moveToInputs(m: Model, names: Set<string>): void {
  const keep: Tensor[] = [];
  for (const t of m.graph.initializers) {
    if (names.has(t.name)) m.graph.inputs.push(tensorValueInfo(t.name, t.dtype, t.dims));
    else keep.push(t);
  }
  m.graph.initializers = keep;
}

/**
 * Emit the loss terms into the forward graph (before shapes are probed, so their values get
 * shapes and their nodes are differentiated with the rest). Returns each term's scalar value and
 * the term inputs the session will hold.
 */
function appendLossTerms(
  m: Model,
  source: Model,
  parameters: string[],
  output: string,
  terms: readonly LossTerm[],
): { values: Map<string, string>; inputs: StateTensor[]; feeds: Map<string, TensorValue> } {
  const values = new Map<string, string>();
  const inputs: StateTensor[] = [];
  const feeds = new Map<string, TensorValue>();
  if (terms.length === 0) return { values, inputs, feeds };
  const g = new GraphBuilder(m.graph);
  const inits = new Map(source.graph.initializers.map((t) => [t.name, t]));
  const ctx: LossTermContext = {
    g,
    parameters: parameters.map((p) => ({ name: p, dtype: inits.get(p)!.dtype, dims: [...inits.get(p)!.dims] })),
    output,
    initial: (p) => {
      const t = inits.get(p);
      if (!t) throw new VergeError('E_BAD_ARGUMENT', `loss term: the model has no parameter '${p}'`);
      return { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() as TensorValue['data'] };
    },
    input: (name, value) => {
      g.input(name, value.dtype, value.dims);
      inputs.push({ input: name, output: '', dtype: value.dtype, dims: [...value.dims], kind: 'term' });
      feeds.set(name, value);
      return name;
    },
  };
  for (const term of terms) {
    if (values.has(term.name)) throw new VergeError('E_BAD_ARGUMENT', `two loss terms are named '${term.name}'`);
    values.set(term.name, term.build(ctx));
  }
  return { values, inputs, feeds };
}

export async function buildTrainingGraph(source: Model, opts: TrainingGraphOptions): Promise<TrainingGraph> {
  const out = outputName(source, opts.output);
  // Same names, parameters and outputs as `source`; only the opset (and rewritten old-style nodes) differ.
  const model = atTrainingOpset(source);
  const formulations = resolveFormulations(opts.formulations);
  const shapes0 = inferValueShapes(model);
  const lowered = lowerForTraining(model, shapes0, opts.seed ?? 0, formulations, {
    trainBatchNorm: opts.trainBatchNorm ?? true,
  });
  const m = lowered.model;
  const dataInputs = graphDataInputs(m.graph).map((i) => i.name);
  // Only the source model's own initializers are parameters (not constants the rewrites added).
  const candidates = model.graph.initializers
    .filter(
      (t) =>
        isFloat(t.dtype) &&
        !lowered.stateUpdates.has(t.name) &&
        !lowered.buffers.has(t.name) &&
        !isFrozen(opts.frozen, t.name),
    )
    .map((t) => t.name);
  const terms = appendLossTerms(m, model, candidates, out, opts.lossTerms ?? []);
  const shapes = inferValueShapes(m);
  for (const [name, v] of terms.values) {
    const dims = shapeOf(shapes, v).dims;
    if (dims.length !== 0)
      throw new VergeError('E_BAD_ARGUMENT', `loss term '${name}' must be a scalar, got dims [${dims}]`);
  }
  const forward = [...m.graph.nodes];
  m.graph.outputs = [];
  const g = new GraphBuilder(m.graph);
  const adjusted = appendAdjustedLoss(g, opts.loss, out, shapeOf(shapes, out), !!opts.logitAdjust);
  const loss = adjusted.loss;
  const seeds = new Map([[out, adjusted.grad]]);
  for (const v of terms.values.values()) seeds.set(v, g.scalar(1, shapeOf(shapes, v).dtype, 'loss_term_seed'));
  const grads = differentiate(
    g,
    forward,
    shapes,
    knownConstants(m),
    opsetOf(m),
    seeds,
    candidates,
    formulations,
    lowered.composites,
  );
  importNchwcDomain(m);
  const parameters = candidates.filter((p) => grads.get(p));
  const lr = g.uniqueName('learning_rate');
  const step = g.uniqueName('step');
  const byName = new Map(m.graph.initializers.map((t) => [t.name, t]));
  const paramGrads = parameters.map((p) => ({
    name: p,
    grad: grads.get(p)!,
    dtype: byName.get(p)!.dtype,
    dims: byName.get(p)!.dims,
  }));
  // the optimizer goes into this graph, or (separateUpdate) into its own over gradient outputs
  let update: UpdateGraph | undefined;
  let og = g;
  if (opts.separateUpdate) {
    const exposed = new Map<string, string>();
    for (const p of paramGrads) {
      p.grad = g.op('Identity', [p.grad], {}, { output: g.uniqueName(`${p.name}.grad`) });
      g.graph.outputs.push(tensorValueInfo(p.grad, p.dtype, p.dims));
      exposed.set(p.name, p.grad);
    }
    og = new GraphBuilder();
    // names distinct from this graph's: a step reads the outputs of both models by name
    for (const n of [...namesOf(m), lr, step]) og.uniqueName(n);
    for (const p of paramGrads)
      og.graph.inputs.push(tensorValueInfo(p.name, p.dtype, p.dims), tensorValueInfo(p.grad, p.dtype, p.dims));
    og.graph.name = `${m.graph.name || 'model'}_update`;
    update = {
      model: { irVersion: m.irVersion, opsetImports: [...m.opsetImports], producerName: 'verge', graph: og.graph },
      grads: exposed,
    };
  }
  og.graph.inputs.push(tensorValueInfo(lr, 'float32', []), tensorValueInfo(step, 'float32', []));
  const opt = appendOptimizer(og, paramGrads, opts.optimizer, lr, step, opts.clipNorm);
  const state = stateTensors(og, g, parameters, lowered.stateUpdates, opt, byName);
  state.push(...terms.inputs, ...adjusted.inputs);
  moveToInputs(m, new Set([...parameters, ...lowered.stateUpdates.keys()]));
  g.graph.outputs.push(tensorValueInfo(loss.loss, shapeOf(shapes, out).dtype, []));
  if (loss.correct) g.graph.outputs.push(tensorValueInfo(loss.correct, 'int64', []));
  const termOutputs: Record<string, string> = {};
  for (const [name, v] of terms.values) {
    termOutputs[name] = v;
    g.graph.outputs.push(tensorValueInfo(v, shapeOf(shapes, v).dtype, []));
  }
  for (const s of state)
    if (s.output) {
      const into = update && s.kind !== 'buffer' ? og : g;
      into.graph.outputs.push(tensorValueInfo(s.output, s.dtype, s.dims));
    }
  const constants = model.graph.initializers
    .filter((t) => isFloat(t.dtype) && !parameters.includes(t.name) && !lowered.stateUpdates.has(t.name))
    .map((t) => t.name);
  return {
    model: m,
    dataInputs,
    labels: loss.labels,
    labelsDtype: loss.labelsDtype,
    lr,
    step,
    loss: loss.loss,
    correct: loss.correct,
    terms: termOutputs,
    termValues: new Map([...terms.feeds, ...adjusted.feeds]),
    state,
    parameters,
    constants,
    ...(update ? { update } : {}),
  };
}

/** Every value and node name of a model's graph. */
function namesOf(m: Model): string[] {
  const g = m.graph;
  return [
    ...g.inputs.map((v) => v.name),
    ...g.outputs.map((v) => v.name),
    ...g.initializers.map((t) => t.name),
    ...g.nodes.flatMap((n) => [n.name ?? '', ...n.outputs]),
  ].filter(Boolean);
}

/**
 * Parameters, running statistics and optimizer slots: read by the step and rewritten by it. The
 * parameters' next values are emitted where the optimizer is (`og`), the statistics' in `g`.
 */
function stateTensors(
  og: GraphBuilder,
  g: GraphBuilder,
  parameters: string[],
  stateUpdates: Map<string, string>,
  opt: ReturnType<typeof appendOptimizer>,
  byName: Map<string, Tensor>,
): StateTensor[] {
  const state: StateTensor[] = [];
  const emit = (b: GraphBuilder, value: string, name: string) =>
    b.op('Identity', [value], {}, { output: b.uniqueName(name) });
  for (const p of parameters) {
    const t = byName.get(p)!;
    state.push({
      input: p,
      output: emit(og, opt.updated.get(p)!, `${p}.next`),
      dtype: t.dtype,
      dims: t.dims,
      kind: 'param',
    });
  }
  for (const [b, next] of stateUpdates) {
    const t = byName.get(b)!;
    state.push({ input: b, output: emit(g, next, `${b}.next`), dtype: t.dtype, dims: t.dims, kind: 'buffer' });
  }
  for (const s of opt.slots)
    state.push({
      input: s.input,
      output: s.output,
      dtype: s.dtype,
      dims: s.dims,
      kind: 'optimizer',
      param: s.param,
      slot: s.kind,
    });
  return state;
}

export interface EvalGraph {
  model: Model;
  labels: string;
  labelsDtype: DType;
  loss: string;
  correct?: string;
}

/**
 * Inference-mode graphs over the SAME state names as the training graph (parameters and running
 * statistics are inputs): `withLoss` adds labels, loss and correct count; otherwise the model's
 * own outputs are computed.
 */
export async function buildInferenceGraph(
  model: Model,
  stateNames: string[],
  loss?: { kind: LossKind; output?: string },
): Promise<EvalGraph> {
  const m = cloneModel(model);
  moveToInputs(m, new Set(stateNames));
  if (!loss) return { model: m, labels: '', labelsDtype: 'float32', loss: '' };
  const out = outputName(model, loss.output);
  const shapes = inferValueShapes(model);
  const g = new GraphBuilder(m.graph);
  const nodes = appendLoss(g, loss.kind, out, shapeOf(shapes, out), false);
  m.graph.outputs = [tensorValueInfo(nodes.loss, shapeOf(shapes, out).dtype, [])];
  if (nodes.correct) m.graph.outputs.push(tensorValueInfo(nodes.correct, 'int64', []));
  return { model: m, labels: nodes.labels, labelsDtype: nodes.labelsDtype, loss: nodes.loss, correct: nodes.correct };
}
