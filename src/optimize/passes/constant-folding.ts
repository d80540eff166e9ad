/**
 * Constant folding: nodes whose inputs are all constants are evaluated by onnxruntime itself (so
 * every op and dtype it supports folds exactly as it would run) and replaced by initializers.
 * Constant nodes become initializers first.
 *
 * Folding is all-or-nothing per node, never per graph: the foldable nodes are evaluated together
 * in one onnxruntime session, and when that fails (an op or dtype onnxruntime cannot run or hand
 * back on its own, an error in one node) they are evaluated one by one, so a failing node leaves
 * only itself and the nodes that read it unfolded. Every node left unfolded although its inputs
 * were constant is reported with the reason.
 */
import {
  cloneModel,
  makeTensor,
  type Attribute,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  isDefaultDomain,
  byteSize,
  type DType,
} from '../../onnx/browser.ts';
import { Session } from '../../runtime/index.ts';
import { eliminateDeadNodesInPlace } from './dead-code.ts';
import { GraphIndex, intValues, subgraphCaptures } from './graph-index.ts';

/** Ops whose output is not a function of their inputs: folding would freeze one draw forever. */
const NONDETERMINISTIC = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
]);

/** Deterministic ops that are still never folded, with the reason. */
const NEVER_FOLDED: Record<string, string> = {
  Dropout: 'left to remove-identities (its training mode decides what it computes)',
};
for (const op of ['If', 'Loop', 'Scan']) NEVER_FOLDED[op] = 'control flow is not folded';
for (const op of [
  'SequenceConstruct',
  'SequenceEmpty',
  'SequenceInsert',
  'SequenceAt',
  'SplitToSequence',
  'ConcatFromSequence',
  'Optional',
  'OptionalGetElement',
  'OptionalHasElement',
]) {
  NEVER_FOLDED[op] = 'sequence and optional values cannot become initializers';
}

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

/** A node a pass left as it was although it could have applied, and why. */
export interface SkippedNode {
  /** The node's name, or its first output's when it has none. */
  node: string;
  op: string;
  reason: string;
}

export async function foldConstants(model: Model, opts: ConstantFoldingOptions = {}): Promise<Model> {
  return (await foldConstantsWithReport(model, opts)).model;
}

/** foldConstants, also naming the nodes with constant inputs that were not folded and why. */
export async function foldConstantsWithReport(
  model: Model,
  opts: ConstantFoldingOptions = {},
): Promise<{ model: Model; skipped: SkippedNode[] }> {
  const out = cloneModel(model);
  const g = out.graph;
  constantNodesToInitializers(g);
  eliminateDeadNodesInPlace(g); // nothing reads them: not worth evaluating (nor failing on)
  const folder = new Folder(out, opts.maxGrowthBytes ?? FOLD_MAX_GROWTH_BYTES);
  await folder.evaluateAll();
  folder.keepValuesWithinLimit();
  folder.apply();
  const remaining = new Set(g.nodes);
  const skipped = [...folder.skipped]
    .filter(([n]) => remaining.has(n)) // a skipped node that nothing reads any more is gone
    .map(([n, reason]) => ({ node: nodeName(n), op: n.opType, reason }));
  return { model: out, skipped };
}

function nodeName(n: Node): string {
  return n.name || n.outputs.find((o) => o) || n.opType;
}

function tensorBytes(t: Tensor): number {
  if (t.dtype === 'string') return (t.data as Uint8Array[]).reduce((s, b) => s + b.length, 0);
  return byteSize(t.dtype, elementCount(t.dims));
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
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

/** Why a node with constant inputs is not even tried, or undefined when it is. */
function notFoldable(n: Node): string | undefined {
  if (!isDefaultDomain(n.domain)) return `domain '${n.domain}' is not folded`;
  if (NONDETERMINISTIC.has(n.opType)) return 'nondeterministic: every run draws new values';
  const never = NEVER_FOLDED[n.opType];
  if (never) return never;
  if (subgraphCaptures(n).size > 0) return 'it reads values from its subgraphs';
  return undefined;
}

/**
 * The folding state of one graph: which values are known constants, which nodes were evaluated,
 * which were skipped and why. Nodes are visited once in topological order; evaluation is batched
 * and a batch is evaluated early only where an op's output size depends on input values.
 */
class Folder {
  private readonly index: GraphIndex;
  /** Constant values: initializers (not overridable) and evaluated outputs. */
  private readonly known = new Map<string, Tensor>();
  private readonly original = new Set<string>();
  /** Evaluated nodes: folded unless unfolded again by the size rule. */
  readonly folded = new Set<Node>();
  readonly skipped = new Map<Node, string>();
  private readonly skippedOutputs = new Map<string, Node>();
  private pending: Node[] = [];
  private readonly pendingOutputs = new Set<string>();
  private readonly sourceMemo = new Map<string, Set<string>>();

  constructor(
    private readonly model: Model,
    private readonly limit: number,
  ) {
    this.index = new GraphIndex(model.graph);
    for (const t of model.graph.initializers) {
      if (this.index.graphInputs.has(t.name)) continue; // overridable by the caller: not a constant
      this.known.set(t.name, t);
      this.original.add(t.name);
    }
  }

  async evaluateAll(): Promise<void> {
    for (const n of this.model.graph.nodes) {
      const inputs = n.inputs.filter((i) => i);
      if (inputs.length === 0) {
        // Constants are initializers by now; what is left draws values (RandomNormal) or is odd.
        const why = notFoldable(n);
        if (why) this.skip(n, why);
        continue;
      }
      if (!inputs.every((i) => this.isConstant(i) || this.skippedOutputs.has(i))) continue;
      if (this.skipIfInputSkipped(n)) continue;
      const why = notFoldable(n);
      if (why) {
        this.skip(n, why);
        continue;
      }
      if (SIZE_FROM_VALUES.has(n.opType)) {
        // Its output size depends on input values: know them before deciding to evaluate it.
        if (inputs.some((i) => this.pendingOutputs.has(i))) await this.flush();
        if (this.skipIfInputSkipped(n)) continue; // a producer failed in that batch
        const bytes = predictOutputBytes(n, this.known);
        if (bytes !== undefined && this.tooLarge(bytes, n.inputs)) {
          this.skip(n, `its output would be ${bytes} bytes, ${this.overLimit()}`);
          continue;
        }
      }
      this.pending.push(n);
      for (const o of n.outputs) if (o) this.pendingOutputs.add(o);
    }
    await this.flush();
  }

  /**
   * Values that must become initializers (read by a node left in the graph, or graph outputs)
   * and are too large unfold their producer instead, whose inputs may then have to become
   * initializers in turn.
   */
  keepValuesWithinLimit(): void {
    let changed = true;
    while (changed) {
      changed = false;
      for (const n of this.folded) {
        const big = n.outputs.find(
          (o) => o && this.materialized(o) && this.tooLarge(tensorBytes(this.known.get(o)!), [o]),
        );
        if (!big) continue;
        this.folded.delete(n);
        this.skip(n, `its output '${big}' is ${tensorBytes(this.known.get(big)!)} bytes, ${this.overLimit()}`);
        changed = true;
      }
    }
  }

  /** Replace the folded nodes by initializers for the values the rest of the graph reads. */
  apply(): void {
    const g = this.model.graph;
    const values: Tensor[] = [];
    for (const n of this.folded)
      for (const o of n.outputs) if (o && this.materialized(o)) values.push(this.known.get(o)!);
    g.nodes = g.nodes.filter((n) => !this.folded.has(n));
    g.initializers.push(...values);
    eliminateDeadNodesInPlace(g);
  }

  private isConstant(name: string): boolean {
    return this.known.has(name) || this.pendingOutputs.has(name);
  }

  /** Read by a node that stays, or a graph output. */
  private materialized(value: string): boolean {
    return this.index.graphOutputs.has(value) || this.index.consumersOf(value).some((c) => !this.folded.has(c));
  }

  private skip(n: Node, reason: string): void {
    this.skipped.set(n, reason);
    for (const o of n.outputs) if (o) this.skippedOutputs.set(o, n);
  }

  /** Skip `n` when one of its inputs comes from a skipped node; true when it did. */
  private skipIfInputSkipped(n: Node): boolean {
    const lost = n.inputs.find((i) => i && this.skippedOutputs.has(i));
    if (lost) this.skip(n, `its input '${lost}' is not folded (${nodeName(this.skippedOutputs.get(lost)!)})`);
    return lost !== undefined;
  }

  private overLimit(): string {
    return `over the ${this.limit}-byte limit and larger than the constants it is computed from`;
  }

  /** Larger than the limit and than the initializers the values `from` are computed from. */
  private tooLarge(bytes: number, from: readonly string[]): boolean {
    if (bytes <= this.limit) return false;
    const sources = new Set<string>();
    for (const v of from) if (v) for (const s of this.sources(v)) sources.add(s);
    let sourceBytes = 0;
    for (const s of sources) sourceBytes += tensorBytes(this.known.get(s)!);
    return bytes > sourceBytes;
  }

  /** The original initializers a constant value is computed from. */
  private sources(value: string): Set<string> {
    const memo = this.sourceMemo.get(value);
    if (memo) return memo;
    const out = new Set<string>();
    if (this.original.has(value)) out.add(value);
    else {
      const producer = this.index.producer.get(value);
      for (const i of producer?.inputs ?? []) if (i) for (const s of this.sources(i)) out.add(s);
    }
    this.sourceMemo.set(value, out);
    return out;
  }

  /** Evaluate the pending nodes: together when possible, else one by one. */
  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.pendingOutputs.clear();
    if (batch.length === 0) return;
    const together = await evaluate(this.model, batch, this.known);
    if (!('error' in together)) {
      this.record(batch, together);
      return;
    }
    for (const n of batch) {
      if (this.skipIfInputSkipped(n)) continue;
      const alone = await evaluate(this.model, [n], this.known);
      if ('error' in alone) this.skip(n, `onnxruntime cannot evaluate it on its own: ${alone.error}`);
      else this.record([n], alone);
    }
  }

  private record(nodes: Node[], values: Map<string, Tensor>): void {
    for (const n of nodes) {
      this.folded.add(n);
      for (const o of n.outputs) if (o) this.known.set(o, values.get(o)!);
    }
  }
}

/**
 * Run `nodes` (topologically sorted, every input known or produced among them) in one session
 * with graph optimizations off, fetching every output.
 */
async function evaluate(
  model: Model,
  nodes: Node[],
  known: Map<string, Tensor>,
): Promise<Map<string, Tensor> | { error: string }> {
  const produced = new Set(nodes.flatMap((n) => n.outputs.filter((o) => o)));
  const inputNames = new Set(nodes.flatMap((n) => n.inputs.filter((i) => i && !produced.has(i))));
  const sub: Model = {
    irVersion: model.irVersion,
    opsetImports: model.opsetImports,
    graph: {
      name: 'constant_folding',
      nodes,
      initializers: [...inputNames].map((name) => known.get(name)!),
      sparseInitializers: [],
      inputs: [],
      outputs: [...produced].map((name) => ({ name })),
      valueInfo: [],
    },
  };
  try {
    // No graph optimizations: the nodes must be evaluated as written.
    const session = await Session.create(sub, { graphOptimization: 'disabled', threads: 1 });
    try {
      const result = await session.run({});
      const values = new Map<string, Tensor>();
      for (const name of produced) {
        const v = result[name];
        if (!v) return { error: `onnxruntime returned no value for '${name}'` };
        values.set(name, { name, dtype: v.dtype, dims: [...v.dims], data: v.data, storage: 'raw' });
      }
      return values;
    } finally {
      await session.release();
    }
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Ops whose output size is set by input values (a shape, repeats, a range) rather than input
 * sizes: a few constant bytes can ask for gigabytes. Their size is predicted before evaluating.
 */
const SIZE_FROM_VALUES = new Set(['ConstantOfShape', 'Expand', 'Tile', 'Range', 'OneHot', 'Pad', 'Resize', 'Upsample']);

function numbers(t: Tensor | undefined): number[] | undefined {
  if (!t) return undefined;
  const ints = intValues(t);
  if (ints) return ints;
  return t.data instanceof Float32Array || t.data instanceof Float64Array ? Array.from(t.data) : undefined;
}

/** Bytes of a SIZE_FROM_VALUES node's first output from its known inputs, if it can tell. */
export function predictOutputBytes(n: Node, known: ReadonlyMap<string, Tensor>): number | undefined {
  const input = (k: number): Tensor | undefined => (n.inputs[k] ? known.get(n.inputs[k]!) : undefined);
  const x = input(0);
  let dtype: DType | undefined = x?.dtype;
  let dims: number[] | undefined;
  switch (n.opType) {
    case 'ConstantOfShape': {
      const v = n.attributes.value;
      dtype = v?.type === 'tensor' ? v.value.dtype : 'float32';
      dims = numbers(x);
      break;
    }
    case 'Expand': {
      const shape = numbers(input(1));
      if (!x || !shape) return undefined;
      const rank = Math.max(x.dims.length, shape.length);
      const at = (s: readonly number[], k: number) => s[s.length - rank + k] ?? 1;
      dims = Array.from({ length: rank }, (_, k) => Math.max(at(x.dims, k), at(shape, k)));
      break;
    }
    case 'Tile': {
      const repeats = numbers(input(1));
      if (x && repeats) dims = x.dims.map((d, k) => d * (repeats[k] ?? 1));
      break;
    }
    case 'Range': {
      const [start, limit, delta] = [0, 1, 2].map((k) => numbers(input(k))?.[0]);
      if (start !== undefined && limit !== undefined && delta) {
        dims = [Math.max(0, Math.ceil((limit - start) / delta))];
      }
      break;
    }
    case 'OneHot': {
      const depth = numbers(input(1))?.[0];
      dtype = input(2)?.dtype;
      if (x && depth !== undefined) dims = [...x.dims, depth];
      break;
    }
    case 'Pad': {
      const attr = n.attributes.pads;
      const pads = attr?.type === 'ints' ? attr.value : numbers(input(1));
      const axes = numbers(input(3)) ?? x?.dims.map((_, k) => k);
      if (!x || !pads || !axes || pads.length !== 2 * axes.length) return undefined;
      dims = [...x.dims];
      axes.forEach((a, k) => {
        const axis = a < 0 ? a + dims!.length : a;
        dims![axis] = dims![axis]! + pads[k]! + pads[k + axes.length]!;
      });
      break;
    }
    case 'Resize':
    case 'Upsample': {
      // Upsample and opset-10 Resize: (X, scales); later Resize: (X, roi, scales, sizes).
      const twoInputs = n.opType === 'Upsample' || n.inputs.length === 2;
      const sizes = twoInputs ? undefined : numbers(input(3));
      const scales = numbers(input(twoInputs ? 1 : 2));
      if (!x) return undefined;
      if (sizes && sizes.length === x.dims.length) dims = sizes;
      else if (scales && scales.length === x.dims.length) dims = x.dims.map((d, k) => Math.floor(d * scales[k]!));
      break;
    }
    default:
      return undefined;
  }
  if (!dtype || !dims || dims.some((d) => !Number.isFinite(d) || d < 0)) return undefined;
  return dtype === 'string' ? undefined : byteSize(dtype, elementCount(dims));
}
