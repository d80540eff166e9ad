/**
 * GraphBuilder: the one way verge code creates and edits graphs (layers in nn/, gradient rules
 * in train/, passes in optimize/). It appends to a Graph it owns and hands out unique names.
 */
import { VergeError } from '../errors.ts';
import { copyPresenceMarks } from './codec.ts';
import { allocate, storageLength, type DType, type TensorData } from './dtype.ts';
import {
  DEFAULT_OPSET,
  irVersionForOpset,
  emptyGraph,
  type Attribute,
  type Dim,
  type Graph,
  type Model,
  type Node,
  type OpsetImport,
  type Tensor,
  type ValueInfo,
} from './ir.ts';

/** Attribute values accepted by the builder; numbers become ints when integral unless wrapped. */
export type AttrInput = number | number[] | string | string[] | Tensor | Graph | Attribute;

/** Force a float attribute (e.g. `alpha: float(1)` would otherwise become an int). */
export function float(v: number): Attribute {
  return { type: 'float', value: v };
}
export function floats(v: number[]): Attribute {
  return { type: 'floats', value: v };
}
export function ints(v: number[]): Attribute {
  return { type: 'ints', value: v };
}

function isAttribute(v: unknown): v is Attribute {
  return typeof v === 'object' && v !== null && 'type' in v && 'value' in v && !('dtype' in v);
}
function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'dims' in v && 'data' in v;
}

export function toAttribute(v: AttrInput): Attribute {
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'int', value: v } : { type: 'float', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { type: 'strings', value: v as string[] };
    const nums = v as number[];
    return nums.every(Number.isInteger) ? { type: 'ints', value: nums } : { type: 'floats', value: nums };
  }
  if (isAttribute(v)) return v;
  if (isTensor(v)) return { type: 'tensor', value: v };
  return { type: 'graph', value: v as Graph };
}

/** Make a tensor; `data` may be a plain number array (converted to the dtype's storage). */
export function makeTensor(
  name: string,
  dtype: DType,
  dims: number[],
  data?: TensorData | number[] | bigint[],
): Tensor {
  const count = dims.reduce((a, b) => a * b, 1);
  let stored: TensorData;
  if (data === undefined) stored = allocate(dtype, count);
  else if (Array.isArray(data) && (data.length === 0 || typeof data[0] === 'number' || typeof data[0] === 'bigint')) {
    const out = allocate(dtype, count);
    if (dtype === 'int64' || dtype === 'uint64') {
      (data as (number | bigint)[]).forEach((x, i) => ((out as BigInt64Array)[i] = BigInt(x)));
    } else {
      (data as number[]).forEach((x, i) => ((out as Float32Array)[i] = x));
    }
    stored = out;
  } else stored = data as TensorData;
  const expected = dtype === 'string' ? count : storageLength(dtype, count);
  if (stored.length !== expected) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `tensor '${name}' has ${stored.length} elements but dims [${dims.join(', ')}] need ${expected}`,
    );
  }
  return { name, dtype, dims: [...dims], data: stored, storage: 'raw' };
}

export function tensorValueInfo(name: string, dtype: DType, shape?: Dim[]): ValueInfo {
  return { name, type: shape ? { kind: 'tensor', dtype, shape: [...shape] } : { kind: 'tensor', dtype } };
}

export interface NodeOptions {
  /** Output names, or a count of outputs to name automatically. Default 1. */
  outputs?: number | string[];
  name?: string;
  domain?: string;
}

export class GraphBuilder {
  readonly graph: Graph;
  private readonly used = new Set<string>();
  private counter = 0;

  /** Build into `graph` (edited in place) or a new empty graph. */
  constructor(graph: Graph = emptyGraph()) {
    this.graph = graph;
    this.collectNames(graph);
  }

  private collectNames(g: Graph): void {
    for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) this.used.add(v.name);
    for (const t of g.initializers) this.used.add(t.name);
    for (const s of g.sparseInitializers) this.used.add(s.values.name);
    for (const n of g.nodes) {
      if (n.name) this.used.add(n.name);
      for (const o of n.outputs) this.used.add(o);
      for (const i of n.inputs) this.used.add(i);
      // Values of subgraphs (If/Loop bodies) share the model's one namespace (SSA).
      for (const a of Object.values(n.attributes)) {
        if (a.type === 'graph') this.collectNames(a.value);
        else if (a.type === 'graphs') for (const sub of a.value) this.collectNames(sub);
      }
    }
  }

  /** A name not used anywhere in the graph, derived from `prefix`. */
  uniqueName(prefix: string): string {
    let name = prefix;
    while (this.used.has(name)) name = `${prefix}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Reserve an exact name (throws if taken). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new VergeError('E_GRAPH_INVALID', `name '${name}' is already used in the graph`);
    this.used.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape?: Dim[]): string {
    this.reserve(name);
    this.graph.inputs.push(tensorValueInfo(name, dtype, shape));
    return name;
  }

  /** Declare `value` a graph output (optionally with its type). */
  output(value: string, dtype?: DType, shape?: Dim[]): string {
    this.graph.outputs.push(dtype ? tensorValueInfo(value, dtype, shape) : { name: value });
    return value;
  }

  /** Add an initializer named after `prefix` (made unique) and return its name. */
  initializer(prefix: string, dtype: DType, dims: number[], data?: TensorData | number[] | bigint[]): string {
    const name = this.uniqueName(prefix);
    this.graph.initializers.push(makeTensor(name, dtype, dims, data));
    return name;
  }

  /** Add an existing tensor as an initializer under its own name. */
  addInitializer(t: Tensor): string {
    this.reserve(t.name);
    this.graph.initializers.push(t);
    return t.name;
  }

  /** Small constant initializers used by emitted ops (shapes, axes, scalars). */
  constInt64(values: number[], dims: number[] = [values.length], prefix = 'const_i64'): string {
    return this.initializer(prefix, 'int64', dims, values);
  }
  constFloat(
    values: number[],
    dims: number[] = [values.length],
    prefix = 'const_f32',
    dtype: DType = 'float32',
  ): string {
    return this.initializer(prefix, dtype, dims, values);
  }
  scalar(value: number, dtype: DType = 'float32', prefix = 'scalar'): string {
    return this.initializer(prefix, dtype, [], [value]);
  }

  /** Append a node; returns its output names. Empty-string inputs mean "optional input omitted". */
  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrInput | undefined> = {},
    opts: NodeOptions = {},
  ): string[] {
    const outs = opts.outputs ?? 1;
    const outputs =
      typeof outs === 'number'
        ? Array.from({ length: outs }, (_, i) => this.uniqueName(`${opType.toLowerCase()}${outs > 1 ? `_o${i}` : ''}`))
        : outs.map((o) => (o === '' ? '' : (this.used.add(o), o)));
    const attributes: Record<string, Attribute> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) attributes[k] = toAttribute(v);
    const n: Node = {
      name: opts.name ?? this.uniqueName(`${opType}_node`),
      opType,
      domain: opts.domain ?? '',
      inputs,
      outputs,
      attributes,
    };
    this.graph.nodes.push(n);
    return outputs;
  }

  /** Append a single-output node and return the output name. */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrInput | undefined> = {},
    opts: Omit<NodeOptions, 'outputs'> & { output?: string } = {},
  ): string {
    return this.node(opType, inputs, attrs, { ...opts, outputs: opts.output ? [opts.output] : 1 })[0]!;
  }
}

export interface ModelOptions {
  opset?: number;
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  /** Extra opset imports (e.g. com.microsoft). */
  extraOpsets?: OpsetImport[];
  docString?: string;
}

export function makeModel(graph: Graph, opts: ModelOptions = {}): Model {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const m: Model = {
    irVersion: opts.irVersion ?? irVersionForOpset(opset),
    opsetImports: [{ domain: '', version: opset }, ...(opts.extraOpsets ?? [])],
    producerName: opts.producerName ?? 'verge',
    graph,
  };
  if (opts.producerVersion) m.producerVersion = opts.producerVersion;
  if (opts.docString) m.docString = opts.docString;
  return m;
}

/** Deep copy of a graph (typed arrays copied) so passes can stay pure. Encodes to the same bytes. */
export function cloneGraph(g: Graph): Graph {
  return copyPresenceMarks(g, structuredClone(g));
}

export function cloneModel(m: Model): Model {
  return copyPresenceMarks(m, structuredClone(m));
}
