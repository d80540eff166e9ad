/**
 * Structured pruning: whole Conv filters and Gemm/MatMul units with the smallest L1 or L2 norm are
 * removed, and every consumer of those channels is rewired so the result is a smaller dense model:
 * BatchNormalization/InstanceNormalization parameters, the next Conv's input channels, the rows of
 * a Gemm/MatMul behind Flatten (channel x spatial blocks), channel offsets through Concat, per-channel
 * constants added to them, and residual Adds.
 *
 * Residual Adds tie producers together: every producer whose channels meet at an Add (directly or
 * through channel-wise ops such as BatchNorm/Relu/pooling/depthwise Conv, and through chains of
 * Adds, as in a ResNet stage) is one channel group. A group removes the same channel indices from
 * all its members, ranked by the members' norms summed per channel, and every consumer of the Add
 * outputs is rewired too. A group is left whole, with the reason reported for each member found, when
 * one of its channel paths reaches something that cannot lose channels: a graph input or output
 * (an identity shortcut from the model input), a non-prunable producer (grouped Conv, computed
 * weights, shared weights), a reshape that mixes channels, or an Add behind a Concat. A depthwise
 * Conv behind a pruned layer loses the same channels (MobileNet's expand -> depthwise -> project).
 */
import { VergeError } from '../../errors.ts';
import {
  inferShapes,
  inChannelAxis,
  makeTensor,
  outChannelAxis,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  isDefaultDomain,
} from '../../onnx/browser.ts';
import { GraphIndex, intAttr, intValues } from '../passes/graph-index.ts';
import { simplifyShapeOps } from '../passes/shape-simplification.ts';
import { checkSparsity } from './magnitude.ts';

export type FilterNorm = 'l1' | 'l2';

export interface FilterPruneOptions {
  /** Fraction of filters/units to remove from every prunable layer, in [0, 1). */
  ratio: number;
  norm?: FilterNorm;
  /**
   * Filters/units to keep in named layers instead of `ratio` (a residual group takes the value of
   * its first member found): used to reach exact final counts when pruning in stages.
   */
  keep?: Record<string, number>;
}

export interface FilterPruneReport {
  /**
   * Pruned layers; `removed` lists the original indices of the removed filters/units. Layers tied
   * by residual Adds name their whole channel group in `group` and remove the same indices.
   */
  layers: { name: string; op: string; before: number; after: number; removed: number[]; group?: string[] }[];
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
  kind: 'conv-in' | 'dense-in' | 'params' | 'depthwise' | 'const';
  node: Node;
  /** kind 'const': the per-channel constant added to the channels, and its channel axis. */
  tensor?: string;
  axis?: number;
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

/** State of one channel group's trace: what it found so far. */
interface TraceContext {
  index: GraphIndex;
  channelsOf: (v: string) => number | undefined;
  shapeOf: (v: string) => (number | string | null | undefined)[] | undefined;
  /** Channels of every member of the group (the width every residual Add must have). */
  width: number;
  uses: ChannelUse[];
  /** Values already traced, as `name@offset`: several members reach the same Add outputs. */
  visited: Set<string>;
  /** Adds already handled (all their inputs joined when first reached). */
  adds: Set<Node>;
  /** Non-constant inputs of residual Adds whose producers must join the group. */
  joins: { add: Node; value: string }[];
}

function sameShape(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((d, k) => (typeof d === 'number' || typeof b[k] === 'number' ? d === b[k] : true));
}

/**
 * A residual Add reached by channels laid out from `offset` in `value`: constants added to them are
 * per-channel parameters to slice, other inputs must come from producers that join the group.
 */
function traceAdd(c: Node, value: string, offset: number, width: number, ctx: TraceContext): void {
  const { index } = ctx;
  if (offset !== 0 || width !== ctx.width)
    throw new NotPrunable(`its channels reach Add '${c.name}' behind a Concat (channel offset ${offset})`);
  const shape = ctx.shapeOf(value);
  if (!shape || shape.length < 2) throw new NotPrunable(`shape of Add '${c.name}' input '${value}' is unknown`);
  for (const other of c.inputs) {
    if (!other || other === value) continue;
    const t = index.constant(other);
    if (t) {
      // Broadcast against `shape`: the constant's axis aligned with channel axis 1.
      const axis = 1 - (shape.length - t.dims.length);
      if (axis < 0 || t.dims[axis] === 1) continue; // the same value for every channel
      if (t.dims[axis] !== width || t.dtype !== 'float32' || !(t.data instanceof Float32Array))
        throw new NotPrunable(`Add '${c.name}' adds a constant of shape [${t.dims.join(', ')}] to its channels`);
      ctx.uses.push({ kind: 'const', node: c, tensor: other, axis, offset, block: 1 });
      continue;
    }
    if (!sameShape(shape, ctx.shapeOf(other)))
      throw new NotPrunable(`Add '${c.name}' broadcasts '${other}' against its channels (or its shape is unknown)`);
    ctx.joins.push({ add: c, value: other });
  }
}

/** Where the channels of `value` (laid out from `offset` in a tensor of `width` channels) end up. */
function traceUses(value: string, offset: number, width: number, ctx: TraceContext, depth = 0): void {
  const { index, channelsOf, uses } = ctx;
  const key = `${value}@${offset}`;
  if (ctx.visited.has(key)) return;
  ctx.visited.add(key);
  if (depth > 256) throw new NotPrunable('channel path too long');
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
      traceUses(c.outputs[0]!, offset, width, ctx, depth + 1);
      continue;
    }
    if (c.opType === 'Add') {
      if (ctx.adds.has(c)) continue;
      ctx.adds.add(c);
      traceAdd(c, value, offset, width, ctx);
      traceUses(c.outputs[0]!, offset, width, ctx, depth + 1);
      continue;
    }
    if (c.opType === 'Conv') {
      const w = constWeight(c, 1, index);
      if (c.inputs[0] !== value || !w) throw new NotPrunable(`Conv '${c.name}' reads it as weights`);
      if (isDepthwise(c, width, index)) {
        // Depthwise (one filter per channel): channel c in is channel c out, so the channel
        // disappears from this conv too and the trace continues behind it.
        if (c.inputs[2] && !constWeight(c, 2, index))
          throw new NotPrunable(`depthwise Conv '${c.name}' has a computed bias`);
        uses.push({ kind: 'depthwise', node: c, offset, block: 1 });
        traceUses(c.outputs[0]!, offset, width, ctx, depth + 1);
        continue;
      }
      if (intAttr(c, 'group', 1) !== 1) throw new NotPrunable(`it feeds grouped Conv '${c.name}'`);
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
      traceUses(c.outputs[0]!, offset + off, total, ctx, depth + 1);
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

function isDepthwise(c: Node, width: number | undefined, index: GraphIndex): boolean {
  const w = constWeight(c, 1, index);
  const group = intAttr(c, 'group', 1);
  return !!w && group !== 1 && (width === undefined || group === width) && w.dims[0] === group && w.dims[1] === 1;
}

/**
 * The producers behind `value`, the other input of a residual Add: followed back through
 * channel-wise ops, depthwise Convs and further Adds to the Conv/Gemm/MatMul layers that made
 * the channels. Anything else there means the channels cannot be removed.
 */
function traceBack(value: string, add: Node, ctx: TraceContext, found: Set<Node>, seen = new Set<string>()): void {
  if (seen.has(value)) return;
  seen.add(value);
  const { index } = ctx;
  const where = `added to its channels at Add '${add.name}'`;
  if (index.graphInputs.has(value)) throw new NotPrunable(`graph input '${value}' is ${where}`);
  const n = index.producer.get(value);
  if (!n) throw new NotPrunable(`'${value}' is ${where} and has no producer`);
  const name = n.name || n.outputs[0]!;
  if (!isDefaultDomain(n.domain)) throw new NotPrunable(`the output of ${n.domain}.${n.opType} '${name}' is ${where}`);
  if (CHANNEL_WISE.has(n.opType) || (n.opType === 'Conv' && isDepthwise(n, undefined, index))) {
    traceBack(n.inputs[0]!, add, ctx, found, seen);
    return;
  }
  const p = asProducer(n, index);
  if (typeof p === 'object') {
    found.add(n);
    return;
  }
  if (typeof p === 'string') throw new NotPrunable(`the output of ${n.opType} '${name}' (${p}) is ${where}`);
  if (n.opType === 'Add') {
    for (const i of n.inputs) if (i && !index.constant(i)) traceBack(i, add, ctx, found, seen);
    return;
  }
  throw new NotPrunable(`the output of ${n.opType} '${name}' is ${where}`);
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
  const k = w.dims[inChannelAxis(d, 2)!]!;
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
    const outAxis = outChannelAxis(n, w.dims.length)!;
    return { node: n, weight: w, outAxis, channels: w.dims[outAxis]!, bias, output: n.outputs[0]! };
  }
  if (n.opType === 'Gemm') {
    if (!w || w.dims.length !== 2) return 'weights are not a constant 2-D float32 tensor';
    const outAxis = outChannelAxis(n, 2)!;
    const units = w.dims[outAxis]!;
    const bias = n.inputs[2] ? constWeight(n, 2, index) : undefined;
    if (n.inputs[2] && (!bias || (bias.data.length !== units && bias.data.length !== 1)))
      return 'bias is not a constant per-unit vector';
    return {
      node: n,
      weight: w,
      outAxis,
      channels: units,
      bias: bias && bias.data.length === units ? bias : undefined,
      output: n.outputs[0]!,
    };
  }
  if (n.opType === 'MatMul') {
    if (!w || w.dims.length !== 2) return undefined;
    const out = n.outputs[0]!;
    const add = index.soleConsumer(out);
    const outAxis = outChannelAxis(n, 2)!;
    const units = w.dims[outAxis]!;
    if (add?.opType === 'Add') {
      const other = add.inputs[0] === out ? add.inputs[1]! : add.inputs[0]!;
      const b = index.constant(other);
      if (b && b.data instanceof Float32Array && b.data.length === units) {
        return {
          node: n,
          weight: w,
          outAxis,
          channels: units,
          addBias: { node: add, tensor: b },
          output: add.outputs[0]!,
        };
      }
    }
    return { node: n, weight: w, outAxis, channels: units, output: out };
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

/**
 * Remove the lowest-norm `ratio` of filters/units of every prunable layer. Pure.
 * Long because: one walk deciding the filters each prunable layer loses and following them into
 * the consumers, over the shared removal map, shapes and weight-user counts; the per-layer
 * decision is the loop body.
 */
export function pruneFilters(model: Model, opts: FilterPruneOptions): { model: Model; report: FilterPruneReport } {
  checkSparsity(opts.ratio);
  const norm = opts.norm ?? 'l1';
  // Computed flatten shapes must be constants before channel paths can be followed through them.
  const out = simplifyShapeOps(model);
  const g = out.graph;
  const index = new GraphIndex(g);
  const shapes = inferShapes(out, { trustDeclared: false });
  const channelsOf = (v: string): number | undefined => {
    const s = shapes.get(v)?.shape;
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

  const assigned = new Set<Node>();
  for (const n of g.nodes) {
    if (assigned.has(n)) continue;
    const first = asProducer(n, index);
    if (first === undefined) continue;
    const name = n.name || n.outputs[0]!;
    if (typeof first === 'string') {
      report.skipped.push({ name, op: n.opType, reason: first });
      continue;
    }
    // The channel group: this producer and every producer tied to it through residual Adds.
    const members: Producer[] = [first];
    assigned.add(n);
    const ctx: TraceContext = {
      index,
      channelsOf,
      shapeOf: (v) => shapes.get(v)?.shape,
      width: first.channels,
      uses: [],
      visited: new Set(),
      adds: new Set(),
      joins: [],
    };
    try {
      for (let m = 0; m < members.length; m++) {
        const p = members[m]!;
        const pName = p.node.name || p.node.outputs[0]!;
        if ((weightUsers.get(p.weight.name) ?? 0) > 1)
          throw new NotPrunable(`the weights of '${pName}' are shared with another node`);
        if (p.channels !== ctx.width)
          throw new NotPrunable(`'${pName}' has ${p.channels} channels, its residual group ${ctx.width}`);
        traceUses(p.output, 0, p.channels, ctx);
        while (ctx.joins.length > 0) {
          const j = ctx.joins.pop()!;
          const found = new Set<Node>();
          traceBack(j.value, j.add, ctx, found);
          for (const f of found) {
            if (members.some((q) => q.node === f)) continue;
            const q = asProducer(f, index);
            if (typeof q !== 'object') throw new NotPrunable(`'${f.name}' is not a prunable layer`);
            members.push(q);
            assigned.add(f);
          }
        }
      }
      for (const u of ctx.uses) {
        const t = u.kind === 'params' ? undefined : u.kind === 'const' ? u.tensor! : u.node.inputs[1]!;
        if (t && (weightUsers.get(t) ?? 0) > 1) throw new NotPrunable(`consumer '${u.node.name}' shares '${t}'`);
      }
    } catch (e) {
      if (!(e instanceof NotPrunable)) throw e;
      const group =
        members.length > 1
          ? ` (residual group of ${members.map((q) => q.node.name || q.node.outputs[0]).join(', ')})`
          : '';
      for (const q of members)
        report.skipped.push({ name: q.node.name || q.node.outputs[0]!, op: q.node.opType, reason: e.message + group });
      continue;
    }
    const wanted = members.map((q) => opts.keep?.[q.node.name || q.node.outputs[0]!]).find((k) => k !== undefined);
    const keepCount = Math.min(ctx.width, Math.max(1, wanted ?? Math.round((1 - opts.ratio) * ctx.width)));
    if (keepCount >= ctx.width) continue;
    // Rank channels by the members' norms summed per channel (one member: its own norms).
    const scores = new Float64Array(ctx.width);
    for (const p of members) {
      const s = channelNorms(p.weight, p.outAxis, norm);
      for (let c = 0; c < s.length; c++) scores[c] += norm === 'l2' ? Math.sqrt(s[c]!) : s[c]!;
    }
    const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
    const removed = order.slice(keepCount).sort((a, b) => a - b);
    for (const p of members) {
      remove(p.weight.name, p.outAxis, removed);
      if (p.bias) remove(p.bias.name, p.bias.dims.length - 1, removed);
      if (p.addBias) remove(p.addBias.tensor.name, p.addBias.tensor.dims.length - 1, removed);
    }
    for (const u of ctx.uses) {
      const shifted = removed.map((c) => c + u.offset);
      if (u.kind === 'params') {
        for (const k of PER_CHANNEL_PARAMS[u.node.opType]!) remove(u.node.inputs[k]!, 0, shifted);
      } else if (u.kind === 'const') {
        remove(u.tensor!, u.axis!, shifted);
      } else if (u.kind === 'conv-in') {
        remove(u.node.inputs[1]!, 1, shifted);
      } else if (u.kind === 'depthwise') {
        remove(u.node.inputs[1]!, 0, shifted);
        if (u.node.inputs[2]) remove(u.node.inputs[2], 0, shifted);
        depthwise.add(u.node);
      } else {
        const w = index.constant(u.node.inputs[1]!)!;
        const inAxis = inChannelAxis(u.node, 2)!;
        const rows: number[] = [];
        for (const c of shifted) for (let b = 0; b < u.block; b++) rows.push(c * u.block + b);
        remove(w.name, inAxis, rows);
      }
    }
    const groupNames = members.map((q) => q.node.name || q.node.outputs[0]!);
    for (const p of members) {
      report.layers.push({
        name: p.node.name || p.node.outputs[0]!,
        op: p.node.opType,
        before: p.channels,
        after: keepCount,
        removed,
        ...(members.length > 1 ? { group: groupNames } : {}),
      });
    }
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
