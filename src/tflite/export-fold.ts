/**
 * Constant folding for the TFLite export of a float model: nodes computing float32 values from
 * initializers only — the parameter slicing of verge's unrolled GRU/LSTM layers (Slice, Reshape,
 * Transpose, Concat, Add of W, R and B in ONNX's packed layout, ../nn/recurrent.ts) — become
 * initializers, so the operators reading them see constants (a MatMul by a constant is a
 * FULLY_CONNECTED). TFLite has only constant tensors, and a TFLite reader should not recompute
 * weights on every inference. Evaluated here, in plain TypeScript (the export is synchronous and
 * this layer does not run onnxruntime); the operators below are all it folds.
 */
import { makeTensor, numel, toposort, type Model, type Node, type Tensor, type TensorType } from '../onnx/browser.ts';
import { permute } from './context.ts';

/** A folded float value: row-major values and dims. */
interface Value {
  values: Float32Array;
  dims: number[];
}

function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

/** The values f(multi-index) over every element of `dims`, row-major. */
function tabulate(dims: number[], f: (idx: number[]) => number): Float32Array {
  const out = new Float32Array(numel(dims));
  const s = strides(dims);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    for (let d = 0; d < dims.length; d++) {
      idx[d] = Math.floor(rem / s[d]!);
      rem -= idx[d]! * s[d]!;
    }
    out[o] = f(idx);
  }
  return out;
}

/** out[i] = x[source(i's multi-index)] over every element of `outDims`. */
function gather(x: Float32Array, outDims: number[], source: (idx: number[]) => number): Float32Array {
  return tabulate(outDims, (idx) => x[source(idx)]!);
}

/** Numpy broadcasting of `a` and `b` to `outDims`, combined by `f`. */
function broadcast(a: Value, b: Value, outDims: number[], f: (x: number, y: number) => number): Float32Array {
  const at = (v: Value) => {
    const s = strides(v.dims);
    const lead = outDims.length - v.dims.length;
    return (idx: number[]) => v.dims.reduce((sum, d, k) => sum + (d === 1 ? 0 : idx[k + lead]! * s[k]!), 0);
  };
  const ai = at(a);
  const bi = at(b);
  return tabulate(outDims, (idx) => f(a.values[ai(idx)]!, b.values[bi(idx)]!));
}

const ARITHMETIC: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y) => x / y,
};
/** Operators that only re-read their input's values in a new shape. */
const RESHAPES = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

/** The begin of a slice along dims (ONNX Slice starts/ends/axes/steps; clamped, negatives from the end). */
function sliceStarts(node: Node, x: Value, ints: (name: string) => number[]): { begin: number[]; step: number[] } {
  const rank = x.dims.length;
  const starts = ints(node.inputs[1]!);
  const axes = node.inputs[3] ? ints(node.inputs[3]) : starts.map((_, i) => i);
  const steps = node.inputs[4] ? ints(node.inputs[4]) : starts.map(() => 1);
  const begin = new Array<number>(rank).fill(0);
  const step = new Array<number>(rank).fill(1);
  axes.forEach((a, k) => {
    const axis = a < 0 ? a + rank : a;
    const dim = x.dims[axis]!;
    const s = starts[k]! < 0 ? starts[k]! + dim : starts[k]!;
    step[axis] = steps[k]!;
    begin[axis] = steps[k]! > 0 ? Math.min(Math.max(s, 0), dim) : Math.min(Math.max(s, -1), dim - 1);
  });
  return { begin, step };
}

/**
 * The value(s) of a node over constant inputs, or undefined when it is not one verge folds (the
 * output dims come from shape inference: `outDims`).
 */
function evaluate(
  node: Node,
  inputs: Value[],
  outDims: number[][],
  ints: (n: string) => number[],
): Value[] | undefined {
  const [x] = inputs;
  const op = node.opType;
  if (!x) return undefined;
  if (RESHAPES.has(op)) return [{ values: x.values, dims: outDims[0]! }];
  if (op === 'Transpose') {
    const a = node.attributes.perm;
    const perm = a?.type === 'ints' ? a.value : [...x.dims.keys()].reverse();
    const t = permute(x.values, x.dims, perm);
    return [{ values: t.values, dims: t.shape }];
  }
  if (ARITHMETIC[op] && inputs.length === 2)
    return [{ values: broadcast(x, inputs[1]!, outDims[0]!, ARITHMETIC[op]), dims: outDims[0]! }];
  if (op === 'Slice') {
    const { begin, step } = sliceStarts(node, x, ints);
    const s = strides(x.dims);
    const source = (idx: number[]) => idx.reduce((sum, i, d) => sum + (begin[d]! + i * step[d]!) * s[d]!, 0);
    return [{ values: gather(x.values, outDims[0]!, source), dims: outDims[0]! }];
  }
  const axisAttr = node.attributes.axis;
  const axis = (a: number) => (a < 0 ? a + x.dims.length : a);
  if (op === 'Concat' && axisAttr?.type === 'int') {
    const ax = axis(axisAttr.value);
    const offsets = inputs.map((_, k) => inputs.slice(0, k).reduce((sum, v) => sum + v.dims[ax]!, 0));
    const out = outDims[0]!;
    const parts = inputs.map((v) => ({ v, s: strides(v.dims) }));
    const pick = (idx: number[]) => {
      const k = offsets.findLastIndex((o) => idx[ax]! >= o);
      const { v, s } = parts[k]!;
      return v.values[idx.reduce((sum, i, d) => sum + (d === ax ? i - offsets[k]! : i) * s[d]!, 0)]!;
    };
    const values = tabulate(out, pick);
    return [{ values, dims: out }];
  }
  if (op === 'Split') {
    const ax = axis(axisAttr?.type === 'int' ? axisAttr.value : 0);
    const s = strides(x.dims);
    let offset = 0;
    return outDims.map((dims) => {
      const at = offset;
      offset += dims[ax]!;
      const source = (idx: number[]) => idx.reduce((sum, i, d) => sum + (d === ax ? i + at : i) * s[d]!, 0);
      return { values: gather(x.values, dims, source), dims };
    });
  }
  return undefined;
}

/**
 * The model with every node whose inputs are all initializers and whose data inputs are float32
 * replaced by float32 initializers (of the operators `evaluate` knows), in graph order, so chains
 * fold. `types`: the inferred value types (static shapes) of the model.
 */
export function foldFloatConstants(model: Model, types: Map<string, TensorType>): Model {
  const g = model.graph;
  const constants = new Map<string, Tensor>(g.initializers.map((t) => [t.name, t]));
  const ints = (name: string) => Array.from(constants.get(name)!.data as ArrayLike<number | bigint>, Number);
  const folded = new Set<Node>();
  const made: Tensor[] = [];
  for (const node of toposort(g)) {
    const ins = node.inputs.filter((i) => i);
    if (ins.length === 0 || !ins.every((i) => constants.has(i))) continue;
    // the data operands: every input of Concat and arithmetic, the first of the others
    const data = node.opType === 'Concat' || ARITHMETIC[node.opType] ? ins : ins.slice(0, 1);
    if (!data.every((i) => constants.get(i)!.dtype === 'float32')) continue;
    const dims = node.outputs.map((o) => types.get(o)?.shape);
    if (!dims.every((d): d is number[] => !!d && d.every((n) => typeof n === 'number'))) continue;
    const values = data.map((i) => {
      const t = constants.get(i)!;
      return { values: Float32Array.from(t.data as ArrayLike<number>), dims: t.dims };
    });
    const out = evaluate(node, values, dims, ints);
    if (!out) continue;
    folded.add(node);
    node.outputs.forEach((o, k) => {
      const t = makeTensor(o, 'float32', out[k]!.dims, out[k]!.values);
      constants.set(o, t);
      made.push(t);
    });
  }
  if (folded.size === 0) return model;
  // the packed W, R, B stay initializers: the export writes only the constants operators read
  const nodes = g.nodes.filter((n) => !folded.has(n));
  return { ...model, graph: { ...g, nodes, initializers: [...g.initializers, ...made] } };
}
