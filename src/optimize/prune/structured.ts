/**
 * Structured pruning: whole Conv filters and Gemm/MatMul units with the smallest L1 or L2 norm are
 * removed, and every consumer of those channels is rewired so the result is a smaller dense model:
 * BatchNormalization/InstanceNormalization parameters, the next Conv's input channels, the rows of
 * a Gemm/MatMul behind Flatten (channel x spatial blocks), and channel offsets through Concat.
 * A producer whose channels reach anything else (a residual Add, a graph output, a depthwise conv,
 * a reshape that mixes channels) is left whole and reported as skipped with the reason. A depthwise
 * Conv behind a pruned layer loses the same channels (MobileNet's expand -> depthwise -> project).
 */
import { VergeError } from '../../errors.ts';
import { cloneModel, makeTensor } from '../../onnx/builder.ts';
import type { Graph, Model, Node, Tensor } from '../../onnx/ir.ts';
import { isDefaultDomain } from '../../onnx/ir.ts';
import { GraphIndex, intAttr, intValues } from '../passes/graph-index.ts';
import { simplifyShapeOps } from '../passes/shape-simplification.ts';
import { inferStaticShapes } from '../passes/static-shapes.ts';
import { checkSparsity } from './magnitude.ts';

export type FilterNorm = 'l1' | 'l2';

export interface FilterPruneOptions {
  /** Fraction of filters/units to remove from every prunable layer, in [0, 1). */
  ratio: number;
  norm?: FilterNorm;
}

export interface FilterPruneReport {
  /** Pruned layers; `removed` lists the original indices of the removed filters/units. */
  layers: { name: string; op: string; before: number; after: number; removed: number[] }[];
  skipped: { name: string; op: string; reason: string }[];
  parametersBefore: number;
  parametersAfter: number;
}

/** Ops that keep channel c of their input in channel c of their output. */
const CHANNEL_WISE = new Set([
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Elu',
  'Selu',
  'Celu',
  'HardSigmoid',
  'HardSwish',
  'Gelu',
  'Softplus',
  'Softsign',
  'Mish',
  'Identity',
  'Dropout',
  'MaxPool',
  'AveragePool',
  'LpPool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'GlobalLpPool',
  'BatchNormalization',
  'InstanceNormalization',
  'Clip',
]);
/** Channel-wise ops whose inputs 1.. are per-channel parameters to slice. */
const PER_CHANNEL_PARAMS: Record<string, number[]> = {
  BatchNormalization: [1, 2, 3, 4],
  InstanceNormalization: [1, 2],
};

interface ChannelUse {
  kind: 'conv-in' | 'dense-in' | 'params' | 'depthwise';
  node: Node;
  /** Channel offset of the producer's channels in the consumer's input (Concat). */
  offset: number;
  /** Elements per channel in a flattened input (dense-in). */
  block: number;
}

class NotPrunable extends Error {}

function allOutputsUnusedExceptFirst(n: Node, index: GraphIndex): boolean {
  return n.outputs.slice(1).every((o) => !o || (index.consumersOf(o).length === 0 && !index.graphOutputs.has(o)));
}

function constWeight(n: Node, k: number, index: GraphIndex): Tensor | undefined {
  const t = n.inputs[k] ? index.constant(n.inputs[k]!) : undefined;
  return t && t.dtype === 'float32' && t.data instanceof Float32Array ? t : undefined;
}

/** Where the channels of `value` (laid out from `offset` in a tensor of `width` channels) end up. */
function traceUses(
  value: string,
  offset: number,
  width: number,
  index: GraphIndex,
  channelsOf: (v: string) => number | undefined,
  uses: ChannelUse[],
  depth = 0,
): void {
  if (depth > 64) throw new NotPrunable('channel path too long');
  if (index.graphOutputs.has(value)) throw new NotPrunable('its channels are a graph output');
  const consumers = index.consumersOf(value);
  if (consumers.length === 0) throw new NotPrunable('its output is unused');
  for (const c of consumers) {
    if (!isDefaultDomain(c.domain)) throw new NotPrunable(`its channels reach ${c.domain}.${c.opType}`);
    if (CHANNEL_WISE.has(c.opType)) {
      if (c.inputs[0] !== value) throw new NotPrunable(`its channels are a parameter of ${c.opType} '${c.name}'`);
      if (!allOutputsUnusedExceptFirst(c, index))
        throw new NotPrunable(`${c.opType} '${c.name}' has extra outputs in use`);
      const params = PER_CHANNEL_PARAMS[c.opType];
      if (params) {
        if (!params.every((k) => constWeight(c, k, index)))
          throw new NotPrunable(`${c.opType} '${c.name}' has non-constant parameters`);
        uses.push({ kind: 'params', node: c, offset, block: 1 });
      }
      if (c.opType === 'Clip' && c.inputs.slice(1).some((i) => i && !index.constant(i)))
        throw new NotPrunable(`Clip '${c.name}' has computed bounds`);
      traceUses(c.outputs[0]!, offset, width, index, channelsOf, uses, depth + 1);
      continue;
    }
    if (c.opType === 'Conv') {
      const w = constWeight(c, 1, index);
      if (c.inputs[0] !== value || !w) throw new NotPrunable(`Conv '${c.name}' reads it as weights`);
      const group = intAttr(c, 'group', 1);
      if (group !== 1 && group === width && w.dims[0] === width && w.dims[1] === 1) {
        // Depthwise (one filter per channel): channel c in is channel c out, so the channel
        // disappears from this conv too and the trace continues behind it.
        if (c.inputs[2] && !constWeight(c, 2, index))
          throw new NotPrunable(`depthwise Conv '${c.name}' has a computed bias`);
        uses.push({ kind: 'depthwise', node: c, offset, block: 1 });
        traceUses(c.outputs[0]!, offset, width, index, channelsOf, uses, depth + 1);
        continue;
      }
      if (group !== 1) throw new NotPrunable(`it feeds grouped Conv '${c.name}'`);
      uses.push({ kind: 'conv-in', node: c, offset, block: 1 });
      continue;
    }
    if (c.opType === 'Concat') {
      const axis = intAttr(c, 'axis', 0);
      if (axis !== 1) throw new NotPrunable(`it is concatenated along axis ${axis}`);
      let off = 0;
      for (const i of c.inputs) {
        if (i === value) break;
        const ch = channelsOf(i);
        if (ch === undefined) throw new NotPrunable(`channels of Concat input '${i}' are unknown`);
        off += ch;
      }
      const total = channelsOf(c.outputs[0]!);
      if (total === undefined) throw new NotPrunable(`channels of Concat '${c.name}' are unknown`);
      traceUses(c.outputs[0]!, offset + off, total, index, channelsOf, uses, depth + 1);
      continue;
    }
    if (c.opType === 'Flatten' || c.opType === 'Reshape') {
      if (c.opType === 'Flatten' && intAttr(c, 'axis', 1) !== 1)
        throw new NotPrunable(`Flatten '${c.name}' does not flatten from the channel axis`);
      if (c.opType === 'Reshape') {
        const target = index.constant(c.inputs[1] ?? '');
        const dims = target ? intValues(target) : undefined;
        if (!dims || dims.length !== 2 || dims[1] !== -1)
          throw new NotPrunable(`Reshape '${c.name}' is not a flatten to [batch, -1]`);
      }
      for (const d of index.consumersOf(c.outputs[0]!)) traceDense(d, c.outputs[0]!, offset, width, index, uses);
      if (index.graphOutputs.has(c.outputs[0]!)) throw new NotPrunable('its flattened channels are a graph output');
      continue;
    }
    if (c.opType === 'Gemm' || c.opType === 'MatMul') {
      traceDense(c, value, offset, width, index, uses, 1);
      continue;
    }
    throw new NotPrunable(`its channels reach ${c.opType} '${c.name}'`);
  }
}

/** A Gemm/MatMul reading a flattened [batch, width*block] tensor. */
function traceDense(
  d: Node,
  value: string,
  offset: number,
  width: number,
  index: GraphIndex,
  uses: ChannelUse[],
  knownBlock?: number,
): void {
  const w = constWeight(d, 1, index);
  if ((d.opType !== 'Gemm' && d.opType !== 'MatMul') || d.inputs[0] !== value || !w) {
    throw new NotPrunable(`flattened channels reach ${d.opType} '${d.name}'`);
  }
  if (d.opType === 'Gemm' && intAttr(d, 'transA', 0) !== 0)
    throw new NotPrunable(`Gemm '${d.name}' transposes its input`);
  if (w.dims.length !== 2) throw new NotPrunable(`${d.opType} '${d.name}' has a ${w.dims.length}-D weight`);
  const k = d.opType === 'Gemm' && intAttr(d, 'transB', 0) === 1 ? w.dims[1]! : w.dims[0]!;
  const block = knownBlock ?? k / width;
  if (!Number.isInteger(block) || block * width !== k)
    throw new NotPrunable(`${d.opType} '${d.name}' input size ${k} is not a multiple of ${width} channels`);
  uses.push({ kind: 'dense-in', node: d, offset, block });
}

interface Producer {
  node: Node;
  weight: Tensor;
  /** Axis of the weight holding output channels/units. */
  outAxis: number;
  channels: number;
  bias?: Tensor;
  /** MatMul followed by a constant bias Add: that Add's bias, and the value the channels flow from. */
  addBias?: { node: Node; tensor: Tensor };
  output: string;
}

function asProducer(n: Node, index: GraphIndex): Producer | string | undefined {
  if (!isDefaultDomain(n.domain)) return undefined;
  const w = constWeight(n, 1, index);
  if (n.opType === 'Conv') {
    if (!w) return 'weights are not a constant float32 tensor';
    if (intAttr(n, 'group', 1) !== 1) return 'grouped/depthwise Conv';
    const bias = n.inputs[2] ? constWeight(n, 2, index) : undefined;
    if (n.inputs[2] && !bias) return 'bias is not constant';
    return { node: n, weight: w, outAxis: 0, channels: w.dims[0]!, bias, output: n.outputs[0]! };
  }
  if (n.opType === 'Gemm') {
    if (!w || w.dims.length !== 2) return 'weights are not a constant 2-D float32 tensor';
    const transB = intAttr(n, 'transB', 0) === 1;
    const units = transB ? w.dims[0]! : w.dims[1]!;
    const bias = n.inputs[2] ? constWeight(n, 2, index) : undefined;
    if (n.inputs[2] && (!bias || (bias.data.length !== units && bias.data.length !== 1)))
      return 'bias is not a constant per-unit vector';
    return {
      node: n,
      weight: w,
      outAxis: transB ? 0 : 1,
      channels: units,
      bias: bias && bias.data.length === units ? bias : undefined,
      output: n.outputs[0]!,
    };
  }
  if (n.opType === 'MatMul') {
    if (!w || w.dims.length !== 2) return undefined;
    const out = n.outputs[0]!;
    const add = index.soleConsumer(out);
    const units = w.dims[1]!;
    if (add?.opType === 'Add') {
      const other = add.inputs[0] === out ? add.inputs[1]! : add.inputs[0]!;
      const b = index.constant(other);
      if (b && b.data instanceof Float32Array && b.data.length === units) {
        return {
          node: n,
          weight: w,
          outAxis: 1,
          channels: units,
          addBias: { node: add, tensor: b },
          output: add.outputs[0]!,
        };
      }
    }
    return { node: n, weight: w, outAxis: 1, channels: units, output: out };
  }
  return undefined;
}

function channelNorms(w: Tensor, axis: number, norm: FilterNorm): Float64Array {
  const d = w.data as Float32Array;
  const c = w.dims[axis]!;
  const inner = w.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = w.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const s = new Float64Array(c);
  for (let o = 0; o < outer; o++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < inner; i++) {
        const v = d[(o * c + ch) * inner + i]!;
        s[ch] += norm === 'l1' ? Math.abs(v) : v * v;
      }
  return s;
}

/** Copy of `t` keeping only the given indices along `axis` (sorted ascending). */
export function sliceAxis(t: Tensor, axis: number, keep: number[]): Tensor {
  const d = t.data as Float32Array;
  const c = t.dims[axis]!;
  const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = t.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const out = new Float32Array(outer * keep.length * inner);
  let p = 0;
  for (let o = 0; o < outer; o++)
    for (const ch of keep) out.set(d.subarray((o * c + ch) * inner, (o * c + ch + 1) * inner), p++ * inner);
  const dims = [...t.dims];
  dims[axis] = keep.length;
  return makeTensor(t.name, 'float32', dims, out);
}

function complement(n: number, removed: Set<number>): number[] {
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (!removed.has(i)) keep.push(i);
  return keep;
}

/** Remove the lowest-norm `ratio` of filters/units of every prunable layer. Pure. */
export function pruneFilters(model: Model, opts: FilterPruneOptions): { model: Model; report: FilterPruneReport } {
  checkSparsity(opts.ratio);
  const norm = opts.norm ?? 'l1';
  // Computed flatten shapes must be constants before channel paths can be followed through them.
  const out = simplifyShapeOps(cloneModel(model));
  const g = out.graph;
  const index = new GraphIndex(g);
  const { shapes } = inferStaticShapes(g);
  const channelsOf = (v: string): number | undefined => {
    const s = shapes.get(v);
    return s && typeof s[1] === 'number' ? s[1] : undefined;
  };
  const weightUsers = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) weightUsers.set(i, (weightUsers.get(i) ?? 0) + 1);

  const report: FilterPruneReport = { layers: [], skipped: [], parametersBefore: floatParams(g), parametersAfter: 0 };
  // Per tensor name: indices to remove along an axis.
  const removals = new Map<string, Map<number, Set<number>>>();
  const depthwise = new Set<Node>();
  const remove = (tensor: string, axis: number, idx: Iterable<number>): void => {
    const byAxis = removals.get(tensor) ?? new Map<number, Set<number>>();
    const set = byAxis.get(axis) ?? new Set<number>();
    for (const i of idx) set.add(i);
    byAxis.set(axis, set);
    removals.set(tensor, byAxis);
  };

  for (const n of g.nodes) {
    const p = asProducer(n, index);
    if (p === undefined) continue;
    const name = n.name || n.outputs[0]!;
    if (typeof p === 'string') {
      report.skipped.push({ name, op: n.opType, reason: p });
      continue;
    }
    const uses: ChannelUse[] = [];
    try {
      if ((weightUsers.get(p.weight.name) ?? 0) > 1) throw new NotPrunable('its weights are shared with another node');
      traceUses(p.output, 0, p.channels, index, channelsOf, uses);
      for (const u of uses) {
        if (u.kind !== 'params' && (weightUsers.get(u.node.inputs[1]!) ?? 0) > 1)
          throw new NotPrunable(`consumer '${u.node.name}' shares its weights`);
      }
    } catch (e) {
      if (!(e instanceof NotPrunable)) throw e;
      report.skipped.push({ name, op: n.opType, reason: e.message });
      continue;
    }
    const keepCount = Math.max(1, Math.round((1 - opts.ratio) * p.channels));
    if (keepCount >= p.channels) continue;
    const scores = channelNorms(p.weight, p.outAxis, norm);
    const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
    const removed = order.slice(keepCount);
    remove(p.weight.name, p.outAxis, removed);
    if (p.bias) remove(p.bias.name, p.bias.dims.length - 1, removed);
    if (p.addBias) remove(p.addBias.tensor.name, p.addBias.tensor.dims.length - 1, removed);
    for (const u of uses) {
      const shifted = removed.map((c) => c + u.offset);
      if (u.kind === 'params') {
        for (const k of PER_CHANNEL_PARAMS[u.node.opType]!) remove(u.node.inputs[k]!, 0, shifted);
      } else if (u.kind === 'conv-in') {
        remove(u.node.inputs[1]!, 1, shifted);
      } else if (u.kind === 'depthwise') {
        remove(u.node.inputs[1]!, 0, shifted);
        if (u.node.inputs[2]) remove(u.node.inputs[2], 0, shifted);
        depthwise.add(u.node);
      } else {
        const w = index.constant(u.node.inputs[1]!)!;
        const inAxis = u.node.opType === 'Gemm' && intAttr(u.node, 'transB', 0) === 1 ? 1 : 0;
        const rows: number[] = [];
        for (const c of shifted) for (let b = 0; b < u.block; b++) rows.push(c * u.block + b);
        remove(w.name, inAxis, rows);
      }
    }
    report.layers.push({
      name,
      op: n.opType,
      before: p.channels,
      after: keepCount,
      removed: [...removed].sort((a, b) => a - b),
    });
  }

  g.initializers = g.initializers.map((t) => {
    const byAxis = removals.get(t.name);
    if (!byAxis) return t;
    let cur = t;
    for (const [axis, set] of byAxis) cur = sliceAxis(cur, axis, complement(cur.dims[axis]!, set));
    return cur;
  });
  // A depthwise conv has one group per remaining channel.
  const byName = new Map(g.initializers.map((t) => [t.name, t]));
  for (const n of depthwise) n.attributes.group = { type: 'int', value: byName.get(n.inputs[1]!)!.dims[0]! };
  // Intermediate shapes changed: drop the (optional) recorded value infos rather than keep wrong ones.
  g.valueInfo = [];
  report.parametersAfter = floatParams(g);
  if (report.layers.length === 0 && opts.ratio > 0) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `no layer could be pruned structurally: ${report.skipped.map((s) => `${s.name} (${s.reason})`).join('; ') || 'no Conv/Gemm/MatMul layers'}`,
    );
  }
  return { model: out, report };
}

function floatParams(g: Graph): number {
  return g.initializers.filter((t) => t.dtype === 'float32').reduce((s, t) => s + t.data.length, 0);
}
