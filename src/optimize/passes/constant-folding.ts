/**
 * Constant folding: nodes whose inputs are all constants are evaluated once, by onnxruntime itself
 * (so every op and dtype it supports folds exactly as it would run), and replaced by initializers.
 * Constant nodes become initializers first.
 */
import { cloneModel, makeTensor } from '../../onnx/builder.ts';
import type { Attribute, Graph, Model, Node, Tensor } from '../../onnx/ir.ts';
import { isDefaultDomain } from '../../onnx/ir.ts';
import { byteSize } from '../../onnx/dtype.ts';
import { Session } from '../../runtime/session.ts';
import { eliminateDeadNodesInPlace } from './dead-code.ts';
import { GraphIndex, subgraphCaptures } from './graph-index.ts';

/** Ops whose output is not a function of their inputs (or that do I/O): never folded. */
const NOT_FOLDABLE = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'Dropout', // training_mode may come from outside; the identity pass handles the inference case
  'If',
  'Loop',
  'Scan',
  'SequenceConstruct',
  'SequenceEmpty',
  'SequenceInsert',
  'SequenceAt',
  'SplitToSequence',
  'ConcatFromSequence',
  'Optional',
  'OptionalGetElement',
  'OptionalHasElement',
]);

/**
 * A folded value larger than this that is also larger than the constants it was computed from is
 * left as computation: folding an Expand or ConstantOfShape into a big initializer would grow the
 * file (onnx-simplifier applies the same kind of size guard).
 */
export const FOLD_MAX_GROWTH_BYTES = 1 << 20;

export interface ConstantFoldingOptions {
  /** Refuse to fold outputs bigger than this many bytes when they grow the model. */
  maxGrowthBytes?: number;
}

export async function foldConstants(model: Model, opts: ConstantFoldingOptions = {}): Promise<Model> {
  const out = cloneModel(model);
  const g = out.graph;
  constantNodesToInitializers(g);
  const limit = opts.maxGrowthBytes ?? FOLD_MAX_GROWTH_BYTES;
  const excluded = new Set<Node>();
  // A few rounds at most: each round excludes the nodes whose results were too large.
  for (let round = 0; round < 4; round++) {
    const plan = planFolding(g, excluded);
    if (plan.nodes.length === 0) break;
    const values = await evaluate(out, plan);
    if (!values) break; // onnxruntime could not evaluate the subgraph: leave the graph as it is
    const tooBig = plan.boundary.filter((name) => {
      const v = values.get(name)!;
      return tensorBytes(v) > limit && tensorBytes(v) > plan.inputBytes;
    });
    if (tooBig.length > 0) {
      const index = new GraphIndex(g);
      for (const name of tooBig) excluded.add(index.producer.get(name)!);
      continue;
    }
    const folded = new Set(plan.nodes);
    g.nodes = g.nodes.filter((n) => !folded.has(n));
    for (const name of plan.boundary) g.initializers.push(values.get(name)!);
    eliminateDeadNodesInPlace(g);
    break;
  }
  return out;
}

function tensorBytes(t: Tensor): number {
  return t.dtype === 'string'
    ? 0
    : byteSize(
        t.dtype,
        t.dims.reduce((a, b) => a * b, 1),
      );
}

/** Replace default-domain Constant nodes by initializers of the same name. */
export function constantNodesToInitializers(g: Graph): void {
  const keep: Node[] = [];
  for (const n of g.nodes) {
    const t = isDefaultDomain(n.domain) && n.opType === 'Constant' ? constantTensor(n) : undefined;
    if (t) g.initializers.push(t);
    else keep.push(n);
  }
  g.nodes = keep;
}

function constantTensor(n: Node): Tensor | undefined {
  const name = n.outputs[0];
  if (!name) return undefined;
  const entries = Object.entries(n.attributes) as [string, Attribute][];
  if (entries.length !== 1) return undefined;
  const [key, a] = entries[0]!;
  switch (key) {
    case 'value':
      return a.type === 'tensor' ? { ...a.value, name } : undefined;
    case 'value_float':
      return a.type === 'float' ? makeTensor(name, 'float32', [], [a.value]) : undefined;
    case 'value_floats':
      return a.type === 'floats' ? makeTensor(name, 'float32', [a.value.length], a.value) : undefined;
    case 'value_int':
      return a.type === 'int' ? makeTensor(name, 'int64', [], [a.value]) : undefined;
    case 'value_ints':
      return a.type === 'ints' ? makeTensor(name, 'int64', [a.value.length], a.exactInts ?? a.value) : undefined;
    default:
      return undefined; // sparse_value, strings: left as nodes
  }
}

interface FoldPlan {
  nodes: Node[];
  /** Constant initializers the folded nodes read. */
  inputs: Tensor[];
  inputBytes: number;
  /** Folded values still read by the rest of the graph (they become initializers). */
  boundary: string[];
}

function planFolding(g: Graph, excluded: Set<Node>): FoldPlan {
  const index = new GraphIndex(g);
  const constant = new Set<string>();
  for (const t of g.initializers) if (!index.graphInputs.has(t.name)) constant.add(t.name);
  const nodes: Node[] = [];
  const used = new Set<string>();
  for (const n of g.nodes) {
    if (excluded.has(n) || !isDefaultDomain(n.domain) || NOT_FOLDABLE.has(n.opType)) continue;
    if (subgraphCaptures(n).size > 0 || n.inputs.length === 0) continue;
    if (!n.inputs.every((i) => !i || constant.has(i))) continue;
    nodes.push(n);
    for (const i of n.inputs) if (i) used.add(i);
    for (const o of n.outputs) if (o) constant.add(o);
  }
  const folded = new Set(nodes);
  const boundary: string[] = [];
  for (const n of nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      const readOutside = index.consumersOf(o).some((c) => !folded.has(c)) || index.graphOutputs.has(o);
      if (readOutside) boundary.push(o);
    }
  }
  const inputs = g.initializers.filter((t) => used.has(t.name));
  return { nodes, inputs, inputBytes: inputs.reduce((s, t) => s + tensorBytes(t), 0), boundary };
}

async function evaluate(model: Model, plan: FoldPlan): Promise<Map<string, Tensor> | undefined> {
  if (plan.boundary.length === 0) return new Map();
  const sub: Model = {
    irVersion: model.irVersion,
    opsetImports: model.opsetImports,
    graph: {
      name: 'constant_folding',
      nodes: plan.nodes,
      initializers: plan.inputs,
      sparseInitializers: [],
      inputs: [],
      outputs: plan.boundary.map((name) => ({ name })),
      valueInfo: [],
    },
  };
  try {
    // No graph optimizations: the subgraph must be evaluated as written.
    const session = await Session.create(sub, { graphOptimization: 'disabled', threads: 1 });
    try {
      const result = await session.run({});
      const values = new Map<string, Tensor>();
      for (const name of plan.boundary) {
        const v = result[name]!;
        values.set(name, { name, dtype: v.dtype, dims: [...v.dims], data: v.data, storage: 'raw' });
      }
      return values;
    } finally {
      await session.release();
    }
  } catch {
    return undefined;
  }
}
