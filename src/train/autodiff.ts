/**
 * Reverse-mode automatic differentiation of ONNX graphs. `differentiate` walks a forward graph
 * backwards and asks each node's gradient rule (grad/) for its inputs' gradients, summing the
 * contributions of values read by several nodes. Everything emitted is standard ONNX, so the
 * result runs on a stock onnxruntime build.
 */
import { FrozenSet } from '../frozen.ts';
import { VergeError } from '../errors.ts';
import {
  cloneModel,
  GraphBuilder,
  makeTensor,
  tensorValueInfo,
  isFloat,
  type DType,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  defaultOpset,
  DEFAULT_OPSET,
  isDefaultDomain,
  upgradeOpset,
  inferValues,
} from '../onnx/browser.ts';
import { resolveFormulations, type Formulations } from './grad/formulations.ts';
import { GradContext, gradRule, LowerContext, type TrainingModes } from './grad/index.ts';
import type { CompositeGrad, NodeView } from './grad/rule.ts';
import { padToInput, sliceWindows, type SliceWindow } from './grad/Slice.ts';
import { importNchwcDomain } from './lower/nchwc.ts';
import { commuteReluMaxPool } from './rewrite.ts';
import { inferValueShapes, shapeOf, type ShapeMap } from './shapes.ts';

/** Ops whose outputs carry no gradient (integer, boolean or piecewise-constant results). */
export const NON_DIFFERENTIABLE: ReadonlySet<string> = new FrozenSet([
  'Shape',
  'Size',
  'ArgMax',
  'ArgMin',
  'Equal',
  'Greater',
  'GreaterOrEqual',
  'Less',
  'LessOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'ConstantOfShape',
  'Constant',
  'RandomUniformLike',
  'RandomNormalLike',
  'RandomUniform',
  'RandomNormal',
  'NonZero',
  'Range',
  'OneHot',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'IsNaN',
  'IsInf',
  'EyeLike',
]);

/** Constant tensors of a graph: initializers and Constant nodes' values, by name. */
export function graphConstants(graph: Graph): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const t of graph.initializers) m.set(t.name, t);
  for (const n of graph.nodes) {
    if (n.opType !== 'Constant' || !isDefaultDomain(n.domain)) continue;
    const a =
      n.attributes.value ??
      n.attributes.value_ints ??
      n.attributes.value_int ??
      n.attributes.value_floats ??
      n.attributes.value_float;
    if (!a) continue;
    const out = n.outputs[0]!;
    if (a.type === 'tensor') m.set(out, a.value);
    else if (a.type === 'ints') m.set(out, makeTensor(out, 'int64', [a.value.length], a.value));
    else if (a.type === 'int') m.set(out, makeTensor(out, 'int64', [], [a.value]));
    else if (a.type === 'floats') m.set(out, makeTensor(out, 'float32', [a.value.length], a.value));
    else if (a.type === 'float') m.set(out, makeTensor(out, 'float32', [], [a.value]));
  }
  return m;
}

/**
 * Constants the gradient rules may read: graphConstants plus the small integer values the shape
 * engine resolves from static dims (slice bounds and split sizes an exporter computes with
 * Shape/Gather/Div, as torch does for chunk() and multi-head attention).
 */
export function knownConstants(model: Model): Map<string, Tensor> {
  const m = graphConstants(model.graph);
  for (const [name, v] of inferValues(model)) {
    if (!m.has(name)) m.set(name, makeTensor(name, 'int64', v.scalar ? [] : [v.values.length], v.values));
  }
  return m;
}

/** Oldest default-domain opset whose op signatures (axes/split as inputs) the rules emit. */
export const MIN_TRAINING_OPSET = 13;
/**
 * Opset of every training graph: the model is raised to it first (onnx/opset-upgrade.ts), so the
 * rules may use ScatterElements/ScatterND reduction=add (16) and axes-as-input reductions (18)
 * whatever opset the model was exported at; the saved inference model keeps its own.
 */
export const TRAINING_OPSET = 18;

/** The model at the opset its training graph uses (itself when already at TRAINING_OPSET or newer). */
export function atTrainingOpset(model: Model): Model {
  const v = defaultOpset(model) ?? DEFAULT_OPSET;
  return v >= TRAINING_OPSET ? model : upgradeOpset(model, TRAINING_OPSET);
}

export function opsetOf(model: Model): number {
  const v = defaultOpset(model) ?? DEFAULT_OPSET;
  if (v < MIN_TRAINING_OPSET) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `model uses opset ${v}; training needs opset ${MIN_TRAINING_OPSET} or newer (re-export or convert the model)`,
    );
  }
  return v;
}

export interface LoweredForward {
  model: Model;
  /** initializer name → value holding its new contents after a training step (BN running stats). */
  stateUpdates: Map<string, string>;
  /** Initializers read as fixed buffers, never parameters (running stats of BN with trainBatchNorm false). */
  buffers: Set<string>;
  /** Rewrites differentiated as one unit (LowerContext.composite): see differentiate. */
  composites: Composite[];
}

/** Nodes a training-mode rewrite emitted for `node`, differentiated together by `grad`. */
export interface Composite {
  node: Node;
  members: Node[];
  grad: CompositeGrad;
}

/**
 * Training-mode forward: a copy of the model in which nodes that behave differently while training
 * (BatchNormalization, Dropout, MaxPool needing its argmax) are rewritten by their rules.
 */
export function lowerForTraining(
  model: Model,
  shapes: ShapeMap,
  seed = 0,
  formulations: Readonly<Formulations> = resolveFormulations(),
  modes: Readonly<TrainingModes> = {},
): LoweredForward {
  const m = cloneModel(model);
  m.graph = commuteReluMaxPool(m.graph);
  const opset = opsetOf(m);
  // Both need the complete graph: the builder must know every node and value name already taken
  // (imported models may use names it would generate, e.g. 'mul' or 'Sub_node'), and Constant
  // nodes are constants the rules read (a Dropout ratio).
  const g = new GraphBuilder(m.graph);
  const constants = graphConstants(m.graph);
  const nodes = m.graph.nodes;
  m.graph.nodes = [];
  const stateUpdates = new Map<string, string>();
  const buffers = new Set<string>();
  const composites: Composite[] = [];
  const inits = new Set(m.graph.initializers.map((t) => t.name));
  nodes.forEach((node, i) => {
    const rule = isDefaultDomain(node.domain) ? gradRule(node.opType) : undefined;
    if (!rule?.trainingForward) {
      m.graph.nodes.push(node);
      return;
    }
    const ctx = new LowerContext(
      g,
      node,
      shapes,
      constants,
      opset,
      (name, next) => {
        if (!inits.has(name)) {
          throw new VergeError(
            'E_UNSUPPORTED',
            `${node.opType} node '${node.name}': state '${name}' must be an initializer to be updated`,
          );
        }
        stateUpdates.set(name, next);
      },
      seed + i,
      formulations,
      modes,
      (name) => {
        if (inits.has(name)) buffers.add(name);
      },
    );
    const start = m.graph.nodes.length;
    rule.trainingForward(ctx);
    if (ctx.compositeGrad) composites.push({ node, members: m.graph.nodes.slice(start), grad: ctx.compositeGrad });
  });
  return { model: m, stateUpdates, buffers, composites };
}

/** The gradient of one single-axis Slice of a value, held back until the value's gradient is summed. */
interface SlicePiece {
  view: NodeView;
  window: SliceWindow;
  dy: string;
}

/**
 * The gradients of slices of one value: slices along one axis that lie end to end (a GRU's gates,
 * attention's q/k/v) give ONE Concat of their gradients (padded if they do not cover the axis),
 * where each slice's own rule would give a zero-padded full-size tensor and then a Sum of them.
 */
function joinSlices(g: GraphBuilder, pieces: readonly SlicePiece[]): string[] {
  const axis = pieces[0]!.window.axis;
  if (pieces.length > 1 && pieces.every((p) => p.window.axis === axis)) {
    const sorted = [...pieces].sort((a, b) => a.window.start - b.window.start);
    if (sorted.every((p, i) => i === 0 || p.window.start === sorted[i - 1]!.window.end)) {
      const first = sorted[0]!;
      const joined = g.op(
        'Concat',
        sorted.map((p) => p.dy),
        { axis },
      );
      return [padToInput(first.view, joined, [{ ...first.window, end: sorted[sorted.length - 1]!.window.end }])];
    }
  }
  return pieces.map((p) => padToInput(p.view, p.dy, [p.window]));
}

/**
 * MatMul nodes A [m, k] · W [k, n] (both 2-D) whose W several such nodes read (an unrolled GRU/LSTM
 * reads its recurrent weight once per step): under formulation sharedWeight 'stacked' their
 * dW = Σ Aᵢᵀ·dYᵢ is one Gemm over the stacked rows, where each node's own rule gives a small Gemm
 * and the contributions a Sum.
 */
function sharedWeightMatMuls(forward: readonly Node[], shapes: ShapeMap): Set<Node> {
  const byWeight = new Map<string, Node[]>();
  for (const n of forward) {
    if (n.opType !== 'MatMul' || !isDefaultDomain(n.domain)) continue;
    const [a, w] = n.inputs as [string, string];
    if (shapes.get(a)?.dims.length !== 2 || shapes.get(w)?.dims.length !== 2) continue;
    byWeight.set(w, [...(byWeight.get(w) ?? []), n]);
  }
  return new Set([...byWeight.values()].filter((ns) => ns.length > 1).flat());
}

/**
 * a + Neg(b) as Sub(a, b) when the Neg was emitted by this backward pass for that contribution
 * alone (Sub's rule gives −dY to its second input: h = h̃ + z·(h_prev − h̃) in an unrolled GRU step):
 * one node fewer. Undefined when the pair is not of that form.
 */
function subtraction(g: GraphBuilder, pair: [string, string], firstEmitted: number): string | undefined {
  const nodes = g.graph.nodes;
  for (const k of [0, 1]) {
    const at = nodes.findLastIndex((n) => n.outputs.includes(pair[k]!));
    const neg = at >= firstEmitted ? nodes[at]! : undefined;
    if (neg?.opType !== 'Neg' || !isDefaultDomain(neg.domain)) continue;
    const out = neg.outputs[0]!;
    if (nodes.some((n) => n.inputs.includes(out)) || g.graph.outputs.some((o) => o.name === out)) continue;
    nodes.splice(at, 1);
    return g.op('Sub', [pair[1 - k]!, neg.inputs[0]!]);
  }
  return undefined;
}

/**
 * Emit the backward pass into `g`. `seeds` maps forward values to their (already emitted)
 * gradients; returns the gradient of each `wrt` name (undefined when no gradient reaches it).
 */
export function differentiate(
  g: GraphBuilder,
  forward: readonly Node[],
  shapes: ShapeMap,
  constants: Map<string, Tensor>,
  opset: number,
  seeds: Map<string, string>,
  wrt: readonly string[],
  formulations: Readonly<Formulations> = resolveFormulations(),
  composites: readonly Composite[] = [],
): Map<string, string | undefined> {
  // A composite is differentiated once, where the backward sweep meets its last node; its other
  // nodes are skipped.
  const compositeAt = new Map<Node, Composite>();
  const inComposite = new Set<Node>();
  for (const c of composites) {
    if (c.members.length === 0) continue;
    compositeAt.set(c.members[c.members.length - 1]!, c);
    for (const n of c.members) inComposite.add(n);
  }
  // Forward sweep: which values depend differentiably on a wrt name.
  const requires = new Set<string>(wrt);
  for (const n of forward) {
    if (NON_DIFFERENTIABLE.has(n.opType) || !n.inputs.some((i) => requires.has(i))) continue;
    for (const o of n.outputs) {
      const s = shapes.get(o);
      if (o && (!s || isFloat(s.dtype))) requires.add(o);
    }
  }
  const firstEmitted = g.graph.nodes.length;
  const sharedWeights = formulations.sharedWeight === 'stacked' ? sharedWeightMatMuls(forward, shapes) : new Set();
  const weightPieces = new Map<string, { a: string; dy: string }[]>();
  const contributions = new Map<string, string[]>();
  const slicePieces = new Map<string, SlicePiece[]>();
  const add = (name: string, grad: string) => {
    const list = contributions.get(name);
    if (list) list.push(grad);
    else contributions.set(name, [grad]);
  };
  const total = (name: string): string | undefined => {
    const pieces = slicePieces.get(name);
    if (pieces) {
      slicePieces.delete(name);
      for (const grad of joinSlices(g, pieces)) add(name, grad);
    }
    const uses = weightPieces.get(name);
    if (uses) {
      weightPieces.delete(name);
      const cat = (vs: string[]) => (vs.length === 1 ? vs[0]! : g.op('Concat', vs, { axis: 0 }));
      add(name, g.op('Gemm', [cat(uses.map((u) => u.a)), cat(uses.map((u) => u.dy))], { transA: 1 }));
    }
    const list = contributions.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const difference = list.length === 2 ? subtraction(g, list as [string, string], firstEmitted) : undefined;
    if (difference) {
      contributions.set(name, [difference]);
      return difference;
    }
    const sum = g.op('Sum', list);
    contributions.set(name, [sum]);
    return sum;
  };
  for (const [v, grad] of seeds) add(v, grad);
  for (let k = forward.length - 1; k >= 0; k--) {
    const member = forward[k]!;
    const composite = compositeAt.get(member);
    if (!composite && inComposite.has(member)) continue;
    const node = composite ? composite.node : member;
    if (NON_DIFFERENTIABLE.has(node.opType)) continue;
    const needs = node.inputs.map((i) => !!i && requires.has(i));
    if (!needs.some(Boolean)) continue;
    const dys = node.outputs.map((o) => (o ? total(o) : undefined));
    if (composite) {
      // Values inside the composite must not receive gradient from elsewhere: its rule ignores them.
      const own = new Set(node.outputs);
      for (const n of composite.members)
        for (const o of n.outputs)
          if (o && !own.has(o) && (contributions.get(o)?.length || slicePieces.has(o) || weightPieces.has(o)))
            throw new VergeError(
              'E_INTERNAL',
              `${node.opType} node '${node.name}': its training rewrite's value '${o}' is read outside it`,
            );
    }
    if (!dys.some(Boolean)) continue;
    const gradOf = composite ? composite.grad : isDefaultDomain(node.domain) ? gradRule(node.opType)?.grad : undefined;
    if (!gradOf) {
      throw new VergeError(
        'E_NO_GRADIENT',
        `no gradient rule for ${node.domain ? `${node.domain}.` : ''}${node.opType} (node ${node.name || node.outputs[0]})`,
      );
    }
    const ctx = new GradContext(g, node, shapes, constants, opset, dys, needs, formulations);
    if (!composite && node.opType === 'Slice' && isDefaultDomain(node.domain) && needs[0]) {
      const windows = sliceWindows(ctx);
      if (windows.length === 1) {
        const x = node.inputs[0]!;
        slicePieces.set(x, [...(slicePieces.get(x) ?? []), { view: ctx, window: windows[0]!, dy: dys[0]! }]);
        continue;
      }
    }
    if (!composite && sharedWeights.has(node) && needs[1]) {
      // dW of a weight several 2-D MatMuls read (an unrolled RNN's recurrent weight), formulation
      // sharedWeight 'stacked': held back and computed once over all of them; the rule gives dA only.
      const w = node.inputs[1]!;
      weightPieces.set(w, [...(weightPieces.get(w) ?? []), { a: node.inputs[0]!, dy: dys[0]! }]);
      if (!needs[0]) continue;
      const [dA] = gradOf(new GradContext(g, node, shapes, constants, opset, dys, [true, false], formulations));
      if (dA) add(node.inputs[0]!, dA);
      continue;
    }
    const grads = gradOf(ctx);
    grads.forEach((grad, i) => {
      if (grad && needs[i]) add(node.inputs[i]!, grad);
    });
  }
  const result = new Map<string, string | undefined>();
  for (const w of wrt) result.set(w, total(w));
  return result;
}

export interface GradientModel {
  model: Model;
  /** Forward output name → the graph input that takes its upstream gradient (dims at the first probe). */
  seedInputs: Map<string, { input: string; dtype: DType; dims: number[] }>;
  /** wrt name → graph output holding its gradient (absent when no gradient reaches it). */
  gradOutputs: Map<string, string>;
}

/**
 * A model computing the forward outputs and the gradients of `wrt` (initializers or graph
 * inputs) given upstream gradients of the outputs as extra inputs. The training-mode forward
 * is used. This is what the finite-difference checks exercise.
 */
export async function buildGradientModel(
  model: Model,
  wrt: readonly string[],
  seed = 0,
  choice: Partial<Formulations> = {},
  modes: Readonly<TrainingModes> = {},
): Promise<GradientModel> {
  const formulations = resolveFormulations(choice);
  const shapes0 = inferValueShapes(model);
  const lowered = lowerForTraining(model, shapes0, seed, formulations, modes);
  const shapes = inferValueShapes(lowered.model);
  const m = lowered.model;
  const forward = [...m.graph.nodes];
  const g = new GraphBuilder(m.graph);
  const seedInputs: GradientModel['seedInputs'] = new Map();
  const seeds = new Map<string, string>();
  for (const out of m.graph.outputs) {
    const s = shapeOf(shapes, out.name);
    const decl = out.type?.kind === 'tensor' ? out.type.shape : undefined;
    const name = g.uniqueName(`${out.name}_grad`);
    g.graph.inputs.push(tensorValueInfo(name, s.dtype, decl ?? s.dims));
    seedInputs.set(out.name, { input: name, dtype: s.dtype, dims: s.dims });
    seeds.set(out.name, name);
  }
  const grads = differentiate(
    g,
    forward,
    shapes,
    knownConstants(m),
    opsetOf(m),
    seeds,
    wrt,
    formulations,
    lowered.composites,
  );
  importNchwcDomain(m);
  const gradOutputs = new Map<string, string>();
  for (const [w, grad] of grads) {
    if (!grad) continue;
    const s = shapeOf(shapes, w);
    const name = g.op('Identity', [grad], {}, { output: g.uniqueName(`${w}_grad`) });
    g.graph.outputs.push(tensorValueInfo(name, s.dtype));
    gradOutputs.set(w, name);
  }
  return { model: m, seedInputs, gradOutputs };
}
