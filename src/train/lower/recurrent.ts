/**
 * lowerRecurrent: a pure pass rewriting ONNX GRU and LSTM nodes into primitive ops (the cell
 * equations of src/nn/recurrent.ts, unrolled over a fixed sequence length), so that models
 * imported from PyTorch with recurrent layers can be differentiated. Covered: forward, reverse and
 * bidirectional; GRU linear_before_reset 0 and 1; optional B, initial_h, initial_c, P; layout 0
 * and 1; activations Sigmoid/Tanh/Relu. Not covered (E_UNSUPPORTED): sequence_lens, clip,
 * input_forget, activation_alpha/beta. Parameter initializers keep their names.
 */
import { VergeError } from '../../errors.ts';
import {
  GraphBuilder,
  cloneModel,
  inferShapes,
  isDefaultDomain,
  type Dim,
  type Graph,
  type Model,
  type Node,
} from '../../onnx/browser.ts';
import { emitRecurrent, type RecurrentDirection } from '../../nn/index.ts';
import { resolveFormulations, type Formulations } from '../grad/formulations.ts';
import { fusedGruUnsupported } from '../grad/GRU.ts';

export interface LowerRecurrentOptions {
  /** Sequence length to unroll to, when the model does not state it. */
  sequenceLength?: number;
  /** Known shapes of values (e.g. inferred for a sample batch), consulted before the graph's value infos. */
  shapes?: Record<string, Dim[]>;
  /**
   * Gradient formulations of the training this lowering prepares: given, with `gru: 'fused'`, GRU
   * nodes that grad/GRU.ts differentiates as one op stay GRU nodes. Absent (or the default 'unrolled'):
   * every node is lowered.
   */
  formulations?: Partial<Formulations>;
}

const MIN_LOWERING_OPSET = 10;
const RECURRENT_OPS = new Set(['GRU', 'LSTM']);

export function hasRecurrent(model: Model): boolean {
  return model.graph.nodes.some((n) => RECURRENT_OPS.has(n.opType) && isDefaultDomain(n.domain));
}

/** Static shape of a value as the graph declares it (inputs, value infos, outputs, initializers). */
export function declaredShape(graph: Graph, name: string): Dim[] | undefined {
  for (const v of [...graph.inputs, ...graph.valueInfo, ...graph.outputs]) {
    if (v.name === name && v.type?.kind === 'tensor' && v.type.shape) return v.type.shape;
  }
  const t = graph.initializers.find((i) => i.name === name);
  return t ? t.dims : undefined;
}

function attrInt(node: Node, name: string): number | undefined {
  const a = node.attributes[name];
  return a && a.type === 'int' ? a.value : undefined;
}

function sequenceLength(graph: Graph, node: Node, layout: 0 | 1, opts: LowerRecurrentOptions): number {
  const x = node.inputs[0]!;
  const shape = opts.shapes?.[x] ?? declaredShape(graph, x);
  const t = shape?.[layout === 0 ? 0 : 1];
  if (typeof t === 'number' && t > 0) return t;
  if (opts.sequenceLength) return opts.sequenceLength;
  throw new VergeError(
    'E_UNSUPPORTED',
    `${node.opType} node '${node.name}': its input '${x}' has no fixed sequence length, which unrolling needs (pass sequenceLength or known shapes)`,
  );
}

function hiddenSize(graph: Graph, node: Node, gates: number): number {
  const h = attrInt(node, 'hidden_size');
  if (h) return h;
  const r = declaredShape(graph, node.inputs[2]!);
  if (r && typeof r[2] === 'number') return r[2];
  const w = declaredShape(graph, node.inputs[1]!);
  if (w && typeof w[1] === 'number') return w[1] / gates;
  throw new VergeError(
    'E_GRAPH_INVALID',
    `${node.opType} node '${node.name}' has no hidden_size and no static R/W to derive it from`,
  );
}

function lowerNode(g: GraphBuilder, graph: Graph, node: Node, opts: LowerRecurrentOptions, opset: number): void {
  const op = node.opType;
  const what = `${op} node '${node.name}'`;
  const input = (i: number): string | undefined => (node.inputs[i] ? node.inputs[i] : undefined);
  if (input(4))
    throw new VergeError(
      'E_UNSUPPORTED',
      `${what}: sequence_lens cannot be lowered (all sequences must have the full length)`,
    );
  if (node.attributes.clip) throw new VergeError('E_UNSUPPORTED', `${what}: the clip attribute cannot be lowered`);
  if (attrInt(node, 'input_forget')) throw new VergeError('E_UNSUPPORTED', `${what}: input_forget=1 cannot be lowered`);
  if (node.attributes.activation_alpha || node.attributes.activation_beta) {
    throw new VergeError('E_UNSUPPORTED', `${what}: activation_alpha/activation_beta cannot be lowered`);
  }
  const layout = (attrInt(node, 'layout') ?? 0) as 0 | 1;
  const dirAttr = node.attributes.direction;
  const direction = (dirAttr && dirAttr.type === 'string' ? dirAttr.value : 'forward') as RecurrentDirection;
  if (!['forward', 'reverse', 'bidirectional'].includes(direction))
    throw new VergeError('E_GRAPH_INVALID', `${what}: unknown direction '${direction}'`);
  const actAttr = node.attributes.activations;
  const activations = actAttr && actAttr.type === 'strings' ? actAttr.value : undefined;
  const cell = op as 'GRU' | 'LSTM';
  const hidden = hiddenSize(graph, node, cell === 'GRU' ? 3 : 4);
  const seqLen = sequenceLength(graph, node, layout, opts);
  const outs = node.outputs;
  const want = {
    Y: outs[0] || undefined,
    Yh: outs[1] || undefined,
    Yc: cell === 'LSTM' ? outs[2] || undefined : undefined,
  };
  emitRecurrent(
    g,
    {
      cell,
      hidden,
      seqLen,
      layout,
      direction,
      linearBeforeReset: (attrInt(node, 'linear_before_reset') ?? 0) !== 0,
      ...(activations ? { activations } : {}),
      opset,
    },
    {
      X: node.inputs[0]!,
      W: node.inputs[1]!,
      R: node.inputs[2]!,
      ...(input(3) ? { B: input(3)! } : {}),
      ...(input(5) ? { initialH: input(5)! } : {}),
      ...(cell === 'LSTM' && input(6) ? { initialC: input(6)! } : {}),
      ...(cell === 'LSTM' && input(7) ? { P: input(7)! } : {}),
    },
    want,
  );
}

/**
 * GRU nodes the fused gradient takes (formulation gru 'fused'): its conditions, with the sequence
 * length fixed by the graph itself (the training graph's shapes come from the declared inputs).
 */
function fusedGrus(model: Model, opts: LowerRecurrentOptions): Set<Node> {
  const keep = new Set<Node>();
  const grus = model.graph.nodes.filter((n) => n.opType === 'GRU' && isDefaultDomain(n.domain));
  if (grus.length === 0 || !opts.formulations || resolveFormulations(opts.formulations).gru !== 'fused') return keep;
  const types = inferShapes(model, { trustDeclared: false });
  for (const n of grus) {
    const t = types.get(n.inputs[0]!)?.shape?.[0];
    if (!fusedGruUnsupported(n, typeof t === 'number' ? t : undefined)) keep.add(n);
  }
  return keep;
}

/**
 * Rewrite the GRU/LSTM nodes of the main graph into primitive ops, except the GRUs the fused
 * gradient takes (opts.formulations). Returns a new model (the model itself when nothing changes).
 */
export function lowerRecurrent(model: Model, opts: LowerRecurrentOptions = {}): Model {
  if (!hasRecurrent(model)) return model;
  const kept = fusedGrus(model, opts);
  if (model.graph.nodes.every((n) => kept.has(n) || !RECURRENT_OPS.has(n.opType) || !isDefaultDomain(n.domain)))
    return model;
  const opset = model.opsetImports.find((o) => isDefaultDomain(o.domain))?.version ?? 0;
  // Slice with tensor inputs (what the unrolled cells use) exists from opset 10; raising a model's
  // opset would change the meaning of its other ops, so older models are refused instead.
  if (opset < MIN_LOWERING_OPSET)
    throw new VergeError(
      'E_UNSUPPORTED',
      `lowering GRU/LSTM needs opset ${MIN_LOWERING_OPSET} or newer; this model imports opset ${opset}`,
    );
  const out = cloneModel(model);
  const graph = out.graph;
  const original = graph.nodes;
  const keptAt = new Set(model.graph.nodes.flatMap((n, i) => (kept.has(n) ? [i] : [])));
  const g = new GraphBuilder(graph);
  graph.nodes = [];
  for (const [i, node] of original.entries()) {
    if (RECURRENT_OPS.has(node.opType) && isDefaultDomain(node.domain) && !keptAt.has(i))
      lowerNode(g, graph, node, opts, opset);
    else graph.nodes.push(node);
  }
  return out;
}
