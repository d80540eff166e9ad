/**
 * A model's summary: what `verge info` prints. Computed from the IR alone (no runtime):
 * interface, op histogram, parameter count, serialized size and multiply-accumulate estimate.
 */
import { isFloat } from './dtype.ts';
import { encodeModel } from './codec.ts';
import { defaultOpset, isDefaultDomain, numel, type Dim, type Model, type Node, type TensorType } from './ir.ts';
import { dataInputs } from './inputs.ts';
import { inferShapes } from './shape/infer.ts';
import { subgraphsOf } from './toposort.ts';
import { computeLayout, layoutAxis } from './weights.ts';

export interface TensorSummary {
  name: string;
  /** Element type ('float32', ...), or the ONNX type kind for non-tensors ('sequence', 'map', 'optional', ...). */
  dtype: string;
  /** Dims: numbers, symbolic names ('batch') or null when unknown; null when the rank is unknown. */
  shape: Dim[] | null;
}

export interface ModelInfo {
  /** Default-domain (ai.onnx) opset; null when the model imports none. */
  opset: number | null;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  /** Op histogram of the main graph, e.g. {Conv: 2, Relu: 3}; ops of other domains as 'domain:Op'. */
  ops: Record<string, number>;
  /** Nodes of the main graph. */
  nodes: number;
  /**
   * Elements of all floating-point initializers. Sparse initializers count their stored values
   * (so a pruned model shows its pruning); external-data initializers count their declared dims.
   */
  parameters: number;
  /** Serialized model size in bytes (the file size when read from a file). */
  bytes: number;
  /**
   * Multiply-accumulates of one forward pass through Conv, ConvTranspose, Gemm, MatMul (and their
   * integer/QLinear forms and onnxruntime's fused com.microsoft forms) and GRU/LSTM/RNN, with every
   * symbolic or unknown dim (batch) taken as 1.
   */
  macs: number;
  /** Nodes of those ops whose shapes could not be inferred, or Conv/Gemm/MatMul of other domains (not in `macs`). */
  macsUnknownNodes: number;
  irVersion: number;
  producer: string;
  /** Every opset import, e.g. {"": 13, "com.microsoft": 1}. */
  opsets: Record<string, number>;
  /** Nodes inside subgraphs (If/Loop/Scan bodies), not in `nodes`. */
  subgraphNodes: number;
  /** Elements of all initializers, of every type (quantized weights included). */
  initializerElements: number;
}

export interface ModelInfoOptions {
  /** The model's serialized size when known (avoids re-encoding). */
  bytes?: number;
}

function summarizeValue(name: string, type: Model['graph']['inputs'][number]['type']): TensorSummary {
  if (!type) return { name, dtype: 'unknown', shape: null };
  if (type.kind === 'opaque')
    return { name, dtype: type.proto.value.case?.replace(/Type$/, '') ?? 'unknown', shape: null };
  return { name, dtype: type.dtype, shape: type.shape ? [...type.shape] : null };
}

function countSubgraphNodes(nodes: Node[]): number {
  let n = 0;
  for (const node of nodes) for (const g of subgraphsOf(node)) n += g.nodes.length + countSubgraphNodes(g.nodes);
  return n;
}

/** Dims with symbolic/unknown entries taken as 1. */
function concrete(shape: Dim[] | undefined): number[] | undefined {
  return shape?.map((d) => (typeof d === 'number' ? d : 1));
}

const COMPUTE_OP_TYPES = new Set([
  'Conv',
  'ConvTranspose',
  'Gemm',
  'MatMul',
  'QLinearConv',
  'QLinearMatMul',
  'GRU',
  'LSTM',
  'RNN',
]);

/** MACs of one node, undefined when it is a counted op whose shapes are unknown, 0 for other ops. */
export function nodeMacs(node: Node, types: Map<string, TensorType>): number | undefined {
  const key = isDefaultDomain(node.domain) ? node.opType : `${node.domain}:${node.opType}`;
  const shape = (name: string | undefined) => (name ? concrete(types.get(name)?.shape) : undefined);
  const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
  // Conv, Gemm, MatMul and their integer, QLinear and fused forms: the weight layout table
  const layout = computeLayout(node);
  if (layout && layout.like !== 'ConvTranspose' && layout.like !== 'Gather') {
    const w = shape(node.inputs[layout.weight]);
    const y = shape(node.outputs[0]);
    if (!w || !y || w.length === 0) return undefined;
    // Conv: each output element takes C_in/group * kernel products (all of W but its output axis)
    const out = layoutAxis(layout.outAxis, w.length);
    if (layout.like === 'Conv') return prod(y) * prod(w.filter((_, i) => i !== out));
    // a matrix product: K, the contracted length of B (its input-channel axis; a vector B is all K)
    if (w.length === 1) return prod(y) * w[0]!;
    return prod(y) * w[layoutAxis(layout.inAxis!, w.length)]!;
  }
  switch (key) {
    case 'ConvTranspose': {
      const w = shape(node.inputs[1]);
      const x = shape(node.inputs[0]);
      if (!w || !x) return undefined;
      // each input element is scattered through C_out/group * kernel weights (W is [C_in, C_out/group, k...])
      return prod(x) * prod(w.slice(1));
    }
    case 'GRU':
    case 'LSTM':
    case 'RNN': {
      const x = shape(node.inputs[0]);
      const w = shape(node.inputs[1]); // [dirs, gates * H, input]
      const r = shape(node.inputs[2]); // [dirs, gates * H, H]
      if (!x || !w || !r || x.length !== 3) return undefined;
      // per step, per direction: input and recurrent projections of every gate
      return x[0]! * x[1]! * w[0]! * w[1]! * (w[2]! + r[2]!);
    }
    default:
      // a Conv/Gemm/MatMul of another domain (e.g. onnxruntime's com.microsoft.nchwc Conv with its
      // blocked channel layout): compute-heavy, but its MACs are not known here
      return COMPUTE_OP_TYPES.has(node.opType) && !isDefaultDomain(node.domain) ? undefined : 0;
  }
}

/** Summarise a model (see ModelInfo for what each figure counts). */
export function modelInfo(model: Model, opts: ModelInfoOptions = {}): ModelInfo {
  const g = model.graph;
  const ops: Record<string, number> = {};
  for (const n of g.nodes) {
    const key = isDefaultDomain(n.domain) ? n.opType : `${n.domain}:${n.opType}`;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  let parameters = 0;
  let initializerElements = 0;
  for (const t of g.initializers) {
    const count = numel(t.dims);
    initializerElements += count;
    if (isFloat(t.dtype) && t.rawDataType === undefined) parameters += count;
  }
  for (const s of g.sparseInitializers) {
    const stored = numel(s.values.dims);
    initializerElements += stored;
    if (isFloat(s.values.dtype)) parameters += stored;
  }
  const types = inferShapes(model);
  let macs = 0;
  let macsUnknownNodes = 0;
  for (const n of g.nodes) {
    const m = nodeMacs(n, types);
    if (m === undefined) macsUnknownNodes++;
    else macs += m;
  }
  const opsets: Record<string, number> = {};
  for (const o of model.opsetImports) opsets[o.domain] = o.version;
  return {
    opset: defaultOpset(model) ?? null,
    inputs: dataInputs(g).map((v) => summarizeValue(v.name, v.type)),
    outputs: g.outputs.map((v) => summarizeValue(v.name, v.type)),
    ops: Object.fromEntries(Object.entries(ops).sort(([a], [b]) => a.localeCompare(b))),
    nodes: g.nodes.length,
    parameters,
    bytes: opts.bytes ?? encodeModel(model).length,
    macs,
    macsUnknownNodes,
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets,
    subgraphNodes: countSubgraphNodes(g.nodes),
    initializerElements,
  };
}
