/**
 * The classifier head of an imported model, and its replacement for a new class count (transfer
 * learning: keep the backbone, train a fresh last layer). The head is the last layer with constant
 * weights on the path to the scores output — a Gemm (torch nn.Linear on 2-D input), a MatMul with
 * an optional bias Add (nn.Linear on 3-D input) or a Conv (squeezenet's 1×1 classifier) — reached
 * from the output through parameter-free ops (Flatten, pooling, activations, Dropout, …).
 */
import { VergeError } from '../errors.ts';
import {
  cloneModel,
  isFloat,
  isDefaultDomain,
  inChannelAxis,
  outChannelAxis,
  type Model,
  type Node,
  type Tensor,
  inferShapes,
} from '../onnx/browser.ts';
import { rng } from '../data/browser.ts';
import { initValues } from '../nn/index.ts';

/** Ops between the head and the scores that carry no parameters and keep the class axis. */
const PASS_THROUGH: ReadonlySet<string> = new Set([
  'Identity',
  'Flatten',
  'Squeeze',
  'Reshape',
  'Dropout',
  'Relu',
  'Clip',
  'Sigmoid',
  'Softmax',
  'LogSoftmax',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'AveragePool',
  'MaxPool',
  'ReduceMean',
]);
/** How many parameter-free nodes the search walks back from the output before giving up. */
const MAX_WALK = 12;

export interface ClassifierHead {
  /** The node computing the scores: its op and name (or first output when unnamed). */
  op: 'Gemm' | 'MatMul' | 'Conv';
  node: string;
  /** Weight initializer; `classAxis` is the axis of its dims that counts classes. */
  weight: string;
  classAxis: number;
  /** Bias initializer (Gemm's C, Conv's B, or the Add after a MatMul), when there is one. */
  bias?: string;
  /** Class count today and the layer's fan-in (inputs per class score). */
  classes: number;
  features: number;
}

function describeNode(n: Node): string {
  return `${n.opType} node '${n.name || n.outputs[0]}'`;
}

/** The classifier head feeding `output` (default: the model's first output). */
export function findHead(model: Model, output?: string): ClassifierHead {
  const g = model.graph;
  const out = output ?? g.outputs[0]?.name;
  if (!out) throw new VergeError('E_GRAPH_INVALID', 'the model has no outputs');
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const constant = (name: string | undefined): Tensor | undefined => {
    const t = name ? inits.get(name) : undefined;
    return t && isFloat(t.dtype) ? t : undefined;
  };
  const notFound = (why: string): never => {
    throw new VergeError(
      'E_UNSUPPORTED',
      `cannot find the classifier layer of output '${out}': ${why} (the head must be a Gemm, a MatMul (+ Add) or a Conv with constant weights)`,
    );
  };
  let value = out;
  let bias: string | undefined;
  for (let walked = 0; walked <= MAX_WALK; walked++) {
    const n = producer.get(value);
    if (!n) return notFound(`'${value}' is a graph input`);
    if (!isDefaultDomain(n.domain)) return notFound(`it comes from ${describeNode(n)}`);
    if (n.opType === 'Add' && bias === undefined) {
      const [a, b] = n.inputs;
      const c = constant(b) ? b : constant(a) ? a : undefined;
      const other = c === b ? a : b;
      if (c && other && producer.get(other)?.opType === 'MatMul') {
        bias = c;
        value = other;
        continue;
      }
      return notFound(`it comes from ${describeNode(n)}`);
    }
    if (n.opType === 'MatMul') {
      const w = constant(n.inputs[1]);
      if (!w || w.dims.length !== 2) return notFound(`${describeNode(n)} has no constant 2-D weight`);
      return head(n, 'MatMul', w, outChannelAxis(n, 2)!, w.dims[inChannelAxis(n, 2)!]!, bias);
    }
    if (bias !== undefined) return notFound(`the bias Add is not fed by a MatMul`);
    if (n.opType === 'Gemm') {
      const w = constant(n.inputs[1]);
      if (!w || w.dims.length !== 2) return notFound(`${describeNode(n)} has no constant weight`);
      const c = n.inputs[2] ? constant(n.inputs[2]) : undefined;
      if (n.inputs[2] && !c) return notFound(`${describeNode(n)} has a computed bias`);
      return head(n, 'Gemm', w, outChannelAxis(n, 2)!, w.dims[inChannelAxis(n, 2)!]!, c?.name);
    }
    if (n.opType === 'Conv') {
      const w = constant(n.inputs[1]);
      if (!w) return notFound(`${describeNode(n)} has no constant weight`);
      const grp = n.attributes.group;
      if (grp?.type === 'int' && grp.value !== 1) return notFound(`${describeNode(n)} is a grouped convolution`);
      const c = n.inputs[2] ? constant(n.inputs[2]) : undefined;
      if (n.inputs[2] && !c) return notFound(`${describeNode(n)} has a computed bias`);
      const fanIn = w.dims.slice(1).reduce((x, y) => x * y, 1);
      return head(n, 'Conv', w, outChannelAxis(n, w.dims.length)!, fanIn, c?.name);
    }
    if (!PASS_THROUGH.has(n.opType)) return notFound(`it comes from ${describeNode(n)}`);
    value = n.inputs[0]!;
  }
  return notFound(`more than ${MAX_WALK} nodes lie between it and the output`);

  function head(
    n: Node,
    op: ClassifierHead['op'],
    w: Tensor,
    classAxis: number,
    features: number,
    b: string | undefined,
  ): ClassifierHead {
    const users = g.nodes.filter((m) => m.inputs.includes(w.name)).length;
    if (users > 1) notFound(`its weight '${w.name}' is shared by ${users} nodes`);
    return {
      op,
      node: n.name || n.outputs[0]!,
      weight: w.name,
      classAxis,
      ...(b ? { bias: b } : {}),
      classes: w.dims[classAxis]!,
      features,
    };
  }
}

export interface ReplaceHeadOptions {
  /** Model output the head feeds (default: the first). */
  output?: string;
  /** Seed of the new layer's initial values. */
  seed?: number;
}

/**
 * A copy of `model` whose classifier head scores `classes` classes: the weight and bias keep their
 * names and get fresh values drawn as PyTorch initializes nn.Linear/nn.Conv2d (U(±1/√fan_in)), and
 * the output's declared shape follows. Fails with one line when an op after the head fixes the
 * old class count (a Reshape to [-1, 1000], say).
 */
export function replaceHead(
  model: Model,
  classes: number,
  opts: ReplaceHeadOptions = {},
): { model: Model; head: ClassifierHead } {
  if (!(Number.isInteger(classes) && classes > 0))
    throw new VergeError('E_BAD_ARGUMENT', `the class count must be a positive integer, got ${classes}`);
  const head = findHead(model, opts.output);
  const m = cloneModel(model);
  const rand = rng(opts.seed ?? 0);
  const fans = { fanIn: head.features, fanOut: classes };
  m.graph.initializers = m.graph.initializers.map((t) => {
    if (t.name === head.weight) {
      const dims = t.dims.map((d, i) => (i === head.classAxis ? classes : d));
      const count = dims.reduce((a, b) => a * b, 1);
      return { ...t, dims, data: fresh(t, initValues('torch', count, fans, rand)), storage: 'raw' as const };
    }
    if (t.name === head.bias) {
      // The bias broadcasts over the class axis: its last dim is the class count ([C] or [1, C], [C,1,1] for Conv).
      const axis = head.op === 'Conv' ? 0 : t.dims.length - 1;
      const dims = t.dims.map((d, i) => (i === axis ? classes : d));
      return { ...t, dims, data: fresh(t, initValues('torch', classes, fans, rand)), storage: 'raw' as const };
    }
    return t;
  });
  const outName = opts.output ?? m.graph.outputs[0]!.name;
  // Scores are [batch, classes] after a Linear or a flattened Conv, [batch, classes, …] straight from a Conv.
  const classAxisOf = (rank: number) => (head.op === 'Conv' && rank > 2 ? 1 : rank - 1);
  m.graph.valueInfo = []; // declared shapes between the head and the output name the old count
  m.graph.outputs = m.graph.outputs.map((o) => {
    if (o.name !== outName || o.type?.kind !== 'tensor' || !o.type.shape) return o;
    const shape = [...o.type.shape];
    shape[classAxisOf(shape.length)] = classes;
    return { ...o, type: { ...o.type, shape } };
  });
  const inferred = inferShapes(m, { trustDeclared: false }).get(outName)?.shape;
  const got = inferred ? inferred[classAxisOf(inferred.length)] : undefined;
  if (typeof got === 'number' && got !== classes)
    throw new VergeError(
      'E_UNSUPPORTED',
      `replacing the head (${head.op} '${head.node}') does not change output '${outName}': an op after it fixes ${got} outputs`,
    );
  return { model: m, head };
}

function fresh(t: Tensor, values: Float32Array): Tensor['data'] {
  if (t.dtype === 'float32') return values;
  if (t.dtype === 'float64') return Float64Array.from(values);
  throw new VergeError(
    'E_UNSUPPORTED',
    `head weight '${t.name}' is ${t.dtype}; only float32/float64 heads can be replaced`,
  );
}
