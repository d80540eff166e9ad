/**
 * Static shape and shape-value propagation for the ops that build shapes in exported graphs.
 * Dims are numbers or symbols (ONNX dim_params, or fresh '?k' names for unknown dims); a symbol
 * names one runtime value, so Shape(x)[0] can be matched with x's first dim even when the batch
 * size is dynamic. Ops it does not know give unknown shapes: callers must then leave things alone.
 */
import { type Graph, type Node, type Tensor, isDefaultDomain, dataInputs } from '../../onnx/browser.ts';
import { intAttr, intsAttr, intValues } from './graph-index.ts';

export type SymDim = number | string;

export interface StaticShapes {
  shapes: Map<string, SymDim[]>;
  /** Element values of small integer tensors (shapes, indices), when known. */
  values: Map<string, SymDim[]>;
}

/** Integer tensors up to this many elements carry their values (shape vectors are tiny). */
const MAX_TRACKED_VALUES = 64;

const SAME_SHAPE = new Set([
  'Relu',
  'Sigmoid',
  'Tanh',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Softplus',
  'Softsign',
  'HardSigmoid',
  'HardSwish',
  'Gelu',
  'Erf',
  'Exp',
  'Log',
  'Neg',
  'Abs',
  'Sqrt',
  'Reciprocal',
  'Ceil',
  'Floor',
  'Round',
  'Sign',
  'Not',
  'Cast',
  'CastLike',
  'Clip',
  'Identity',
  'Dropout',
  'BatchNormalization',
  'InstanceNormalization',
  'LRN',
  'Softmax',
  'LogSoftmax',
  'Hardmax',
  'LayerNormalization',
  'QuantizeLinear',
  'DequantizeLinear',
  'Sin',
  'Cos',
  'Mish',
  'ThresholdedRelu',
  'Celu',
  'PRelu',
]);
const BROADCAST = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Mod',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Where',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'BitShift',
]);
/** Ops whose values (not just shapes) are tracked when their inputs' values are known. */
const VALUE_OPS = new Set(['Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Cast', 'Identity', 'Slice', 'Size']);

export function inferStaticShapes(g: Graph): StaticShapes {
  const shapes = new Map<string, SymDim[]>();
  const values = new Map<string, SymDim[]>();
  let fresh = 0;
  for (const inp of dataInputs(g)) {
    const t = inp.type;
    if (t?.kind !== 'tensor' || !t.shape) continue;
    shapes.set(
      inp.name,
      t.shape.map((d) => (d === null || d === '' ? `?${fresh++}` : d)),
    );
  }
  for (const t of g.initializers) {
    if (shapes.has(t.name) && !g.inputs.some((i) => i.name === t.name)) continue;
    if (g.inputs.some((i) => i.name === t.name)) continue; // overridable: not a constant
    shapes.set(t.name, [...t.dims]);
    const v = constantValues(t);
    if (v) values.set(t.name, v);
  }
  for (const n of g.nodes) {
    if (!isDefaultDomain(n.domain)) continue;
    try {
      inferNode(n, shapes, values, () => `?${fresh++}`);
    } catch {
      /* malformed attributes: leave this node's outputs unknown */
    }
  }
  return { shapes, values };
}

function constantValues(t: Tensor): SymDim[] | undefined {
  if (t.data.length > MAX_TRACKED_VALUES) return undefined;
  return intValues(t);
}

function product(dims: SymDim[]): SymDim | undefined {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return dims.length === 1 ? d : undefined;
    p *= d;
  }
  return p;
}

function broadcast(shapes: (SymDim[] | undefined)[]): SymDim[] | undefined {
  if (shapes.some((s) => !s)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: SymDim[] = [];
  for (let k = 0; k < rank; k++) {
    let dim: SymDim = 1;
    for (const s of shapes) {
      const d = s![s!.length - rank + k];
      if (d === undefined || d === 1) continue;
      if (dim === 1) dim = d;
      else if (dim !== d) return undefined; // symbolic vs number: cannot tell statically
    }
    out.push(dim);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function axesOf(n: Node, values: Map<string, SymDim[]>): number[] | undefined {
  const attr = intsAttr(n, 'axes');
  if (attr) return attr;
  const v = n.inputs[1] ? values.get(n.inputs[1]) : undefined;
  return v && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

function poolShape(
  n: Node,
  x: SymDim[],
  kernel: number[],
  channels: SymDim,
  fresh: () => string,
): SymDim[] | undefined {
  const spatial = x.length - 2;
  const strides = intsAttr(n, 'strides') ?? Array<number>(spatial).fill(1);
  const dil = intsAttr(n, 'dilations') ?? Array<number>(spatial).fill(1);
  const pads = intsAttr(n, 'pads') ?? Array<number>(spatial * 2).fill(0);
  const autoPad = n.attributes.auto_pad?.type === 'string' ? n.attributes.auto_pad.value : 'NOTSET';
  const ceil = intAttr(n, 'ceil_mode', 0) === 1;
  const out: SymDim[] = [x[0]!, channels];
  for (let k = 0; k < spatial; k++) {
    const d = x[k + 2]!;
    if (typeof d !== 'number') {
      out.push(fresh());
      continue;
    }
    const eff = (kernel[k]! - 1) * dil[k]! + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(d / strides[k]!));
    else if (autoPad === 'VALID') out.push(Math.floor((d - eff) / strides[k]!) + 1);
    else {
      const span = d + pads[k]! + pads[k + spatial]! - eff;
      out.push((ceil ? Math.ceil(span / strides[k]!) : Math.floor(span / strides[k]!)) + 1);
    }
  }
  return out;
}

function inferNode(n: Node, shapes: Map<string, SymDim[]>, values: Map<string, SymDim[]>, fresh: () => string): void {
  const s = (k: number): SymDim[] | undefined => (n.inputs[k] ? shapes.get(n.inputs[k]!) : undefined);
  const v = (k: number): SymDim[] | undefined => (n.inputs[k] ? values.get(n.inputs[k]!) : undefined);
  const set = (shape: SymDim[] | undefined, k = 0): void => {
    if (shape && n.outputs[k]) shapes.set(n.outputs[k]!, shape);
  };
  const setValue = (val: SymDim[] | undefined): void => {
    if (val && n.outputs[0] && val.length <= MAX_TRACKED_VALUES) values.set(n.outputs[0], val);
  };
  const op = n.opType;
  const x = s(0);
  if (SAME_SHAPE.has(op)) {
    set(x);
    if (op === 'Identity' || op === 'Cast') setValue(v(0));
    return;
  }
  if (BROADCAST.has(op)) {
    set(broadcast(n.inputs.map((_, k) => s(k))));
    return;
  }
  switch (op) {
    case 'Conv': {
      const w = s(1);
      if (!x || !w || w.some((d) => typeof d !== 'number')) return;
      set(poolShape(n, x, intsAttr(n, 'kernel_shape') ?? (w.slice(2) as number[]), w[0]!, fresh));
      return;
    }
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const k = intsAttr(n, 'kernel_shape');
      if (!x || !k) return;
      const out = poolShape(n, x, k, x[1]!, fresh);
      set(out);
      if (n.outputs[1]) set(out, 1);
      return;
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'GlobalLpPool':
      if (x) set([x[0]!, x[1]!, ...x.slice(2).map(() => 1)]);
      return;
    case 'Gemm': {
      const a = x;
      const b = s(1);
      if (!a || !b || a.length !== 2 || b.length !== 2) return;
      const m = intAttr(n, 'transA', 0) ? a[1]! : a[0]!;
      const nn = intAttr(n, 'transB', 0) ? b[0]! : b[1]!;
      set([m, nn]);
      return;
    }
    case 'MatMul': {
      const a = x;
      const b = s(1);
      if (!a || !b || a.length < 2 || b.length < 2) return;
      const batch = broadcast([a.slice(0, -2), b.slice(0, -2)]);
      if (batch) set([...batch, a[a.length - 2]!, b[b.length - 1]!]);
      return;
    }
    case 'Flatten': {
      if (!x) return;
      const axis = normAxis(intAttr(n, 'axis', 1), x.length);
      const left = product(x.slice(0, axis));
      const right = product(x.slice(axis));
      set([left ?? fresh(), right ?? fresh()]);
      return;
    }
    case 'Reshape': {
      const target = v(1);
      if (!x || !target) return;
      const allowZero = intAttr(n, 'allowzero', 0) === 1;
      const out = target.map((d, k) => (d === 0 && !allowZero ? x[k]! : d));
      const minus = out.indexOf(-1);
      if (minus >= 0) {
        const total = product(x);
        const rest = product(out.filter((_, k) => k !== minus));
        if (typeof total === 'number' && typeof rest === 'number' && rest > 0) out[minus] = total / rest;
        else if (x.length === out.length && out.every((d, k) => k === minus || d === x[k])) out[minus] = x[minus]!;
        else out[minus] = fresh();
      }
      set(out);
      return;
    }
    case 'Transpose': {
      if (!x) return;
      const perm = intsAttr(n, 'perm') ?? x.map((_, k) => x.length - 1 - k);
      set(perm.map((p) => x[p]!));
      return;
    }
    case 'Concat': {
      const all = n.inputs.map((_, k) => s(k));
      if (all.some((a) => !a) || all.length === 0) return;
      const rank = all[0]!.length;
      const axis = normAxis(intAttr(n, 'axis', 0), rank);
      const out = [...all[0]!];
      let sum: SymDim = 0;
      for (const a of all) {
        const d = a![axis]!;
        sum = typeof sum === 'number' && typeof d === 'number' ? sum + d : fresh();
      }
      out[axis] = sum;
      set(out);
      const vals = n.inputs.map((_, k) => v(k));
      if (rank === 1 && vals.every((a) => a)) setValue(vals.flatMap((a) => a!));
      return;
    }
    case 'Shape': {
      if (!x) return;
      const start = normAxis(intAttr(n, 'start', 0), x.length);
      const endAttr = n.attributes.end ? intAttr(n, 'end', x.length) : x.length;
      const end = Math.min(x.length, normAxis(endAttr, x.length));
      const dims = x.slice(Math.max(0, start), end);
      set([dims.length]);
      setValue(dims);
      return;
    }
    case 'Size': {
      set([]);
      const p = x ? product(x) : undefined;
      if (typeof p === 'number') setValue([p]);
      return;
    }
    case 'Gather': {
      const idx = s(1);
      if (!x || !idx) return;
      const axis = normAxis(intAttr(n, 'axis', 0), x.length);
      set([...x.slice(0, axis), ...idx, ...x.slice(axis + 1)]);
      const data = v(0);
      const indices = v(1);
      if (data && indices && x.length === 1 && indices.every((i) => typeof i === 'number')) {
        setValue((indices as number[]).map((i) => data[i < 0 ? i + data.length : i]!));
      }
      return;
    }
    case 'Unsqueeze': {
      const axes = axesOf(n, values);
      if (!x || !axes) return;
      const rank = x.length + axes.length;
      const norm = new Set(axes.map((a) => normAxis(a, rank)));
      const out: SymDim[] = [];
      let src = 0;
      for (let k = 0; k < rank; k++) out.push(norm.has(k) ? 1 : x[src++]!);
      set(out);
      setValue(v(0));
      return;
    }
    case 'Squeeze': {
      if (!x) return;
      const axes = axesOf(n, values);
      if (!axes && n.inputs[1]) return;
      const drop = new Set(
        (axes ?? x.map((d, k) => (d === 1 ? k : -1)).filter((k) => k >= 0)).map((a) => normAxis(a, x.length)),
      );
      set(x.filter((_, k) => !drop.has(k)));
      setValue(v(0));
      return;
    }
    default:
      if (VALUE_OPS.has(op)) return; // Slice etc.: shape unknown here
      return;
  }
}
