/**
 * BatchNormalization folding (inference mode): a BatchNormalization that directly follows a Conv
 * or Gemm with constant weights becomes part of that Conv/Gemm's weights and bias.
 *   y = s * (conv(x, W) + B - mean) + beta,  s = gamma / sqrt(var + eps)
 *     = conv(x, W * s[c]) + (B - mean) * s + beta
 */
import {
  cloneModel,
  makeTensor,
  isDefaultDomain,
  outChannelAxis,
  type Graph,
  type Model,
  type Node,
  type Tensor,
} from '../../onnx/browser.ts';
import { eliminateDeadNodesInPlace } from './dead-code.ts';
import { floatAttr, GraphIndex, intAttr, replaceUses } from './graph-index.ts';

export function foldBatchNorm(model: Model): Model {
  const out = cloneModel(model);
  const g = out.graph;
  let folded = 0;
  for (;;) {
    const index = new GraphIndex(g);
    const bn = g.nodes.find(
      (n) => isDefaultDomain(n.domain) && n.opType === 'BatchNormalization' && foldTarget(n, index),
    );
    if (!bn) break;
    fold(g, index, bn, foldTarget(bn, index)!);
    folded++;
  }
  if (folded > 0) eliminateDeadNodesInPlace(g);
  return out;
}

interface BnParams {
  scale: Float64Array;
  shift: Float64Array;
}

/** s and t such that BN(y) = s*y + t per channel, or undefined when BN is not constant/foldable. */
function bnParams(bn: Node, index: GraphIndex): BnParams | undefined {
  if (bn.inputs.length < 5) return undefined;
  // Training-mode outputs (running mean/var updates) mean this is not an inference BN.
  if (bn.outputs.slice(1).some((o) => o)) return undefined;
  if (intAttr(bn, 'training_mode', 0) !== 0) return undefined;
  if (intAttr(bn, 'spatial', 1) !== 1) return undefined;
  const [gamma, beta, mean, variance] = bn.inputs.slice(1, 5).map((n) => index.constant(n));
  if (!gamma || !beta || !mean || !variance) return undefined;
  const arrays = [gamma, beta, mean, variance].map((t) => floatArray(t));
  if (arrays.some((a) => !a)) return undefined;
  const [ga, be, me, va] = arrays as (Float32Array | Float64Array)[];
  const c = ga!.length;
  if (be!.length !== c || me!.length !== c || va!.length !== c) return undefined;
  const eps = floatAttr(bn, 'epsilon', 1e-5);
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    scale[k] = ga![k]! / Math.sqrt(va![k]! + eps);
    shift[k] = be![k]! - me![k]! * scale[k]!;
  }
  return { scale, shift };
}

function floatArray(t: Tensor): Float32Array | Float64Array | undefined {
  return t.data instanceof Float32Array || t.data instanceof Float64Array ? t.data : undefined;
}

interface Target {
  producer: Node;
  params: BnParams;
  /** Output channels, and the weight axis holding them (0: Conv, Gemm [N, K] with transB; 1: Gemm [K, N]). */
  channels: number;
  outAxis: number;
}

function foldTarget(bn: Node, index: GraphIndex): Target | undefined {
  const x = bn.inputs[0]!;
  const producer = index.producer.get(x);
  if (!producer || !isDefaultDomain(producer.domain)) return undefined;
  if (index.soleConsumer(x) !== bn) return undefined;
  const params = bnParams(bn, index);
  if (!params) return undefined;
  const w = index.constant(producer.inputs[1] ?? '');
  if (!w || !floatArray(w) || w.dtype !== 'float32') return undefined;
  const bias = producer.inputs[2] ? index.constant(producer.inputs[2]) : undefined;
  if (producer.inputs[2] && (!bias || !floatArray(bias))) return undefined;
  if (producer.opType === 'Conv') {
    const outAxis = outChannelAxis(producer, w.dims.length)!;
    if (w.dims[outAxis] !== params.scale.length) return undefined;
    if (bias && bias.data.length !== params.scale.length) return undefined;
    return { producer, params, channels: w.dims[outAxis]!, outAxis };
  }
  if (producer.opType === 'Gemm') {
    if (w.dims.length !== 2 || intAttr(producer, 'transA', 0) !== 0) return undefined;
    const outAxis = outChannelAxis(producer, 2)!;
    const n = w.dims[outAxis]!;
    if (n !== params.scale.length) return undefined;
    // C must be per-output (shape [N] or [1, N]) or a scalar to be folded with BN's shift.
    if (bias && bias.data.length !== n && bias.data.length !== 1) return undefined;
    return { producer, params, channels: n, outAxis };
  }
  return undefined;
}

function fold(g: Graph, index: GraphIndex, bn: Node, t: Target): void {
  const { producer, params, channels } = t;
  const w = index.constant(producer.inputs[1]!)!;
  const wData = w.data as Float32Array;
  const newW = new Float32Array(wData.length);
  if (t.outAxis === 0) {
    const per = wData.length / channels;
    for (let c = 0; c < channels; c++)
      for (let k = 0; k < per; k++) newW[c * per + k] = wData[c * per + k]! * params.scale[c]!;
  } else {
    // Gemm B is [K, N]: scale columns
    const rows = wData.length / channels;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < channels; c++) newW[r * channels + c] = wData[r * channels + c]! * params.scale[c]!;
  }
  const alpha = producer.opType === 'Gemm' ? floatAttr(producer, 'alpha', 1) : 1;
  const beta = producer.opType === 'Gemm' ? floatAttr(producer, 'beta', 1) : 1;
  const oldBias = producer.inputs[2] ? (index.constant(producer.inputs[2])!.data as Float32Array) : undefined;
  const newB = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const b = oldBias ? oldBias[oldBias.length === 1 ? 0 : c]! * beta : 0;
    newB[c] = b * params.scale[c]! + params.shift[c]!;
  }
  // Gemm computes alpha*A*B + beta*C; the weights were scaled, so alpha stays, and C' is final.
  void alpha;
  const wName = uniqueInitName(g, `${w.name}_bnfolded`);
  const bName = uniqueInitName(g, `${producer.name || producer.outputs[0]}_bias_bnfolded`);
  g.initializers.push(makeTensor(wName, 'float32', [...w.dims], newW));
  g.initializers.push(makeTensor(bName, 'float32', [channels], newB));
  producer.inputs = [producer.inputs[0]!, wName, bName];
  if (producer.opType === 'Gemm') producer.attributes.beta = { type: 'float', value: 1 };
  // The producer now writes BN's output directly.
  const bnOut = bn.outputs[0]!;
  const convOut = producer.outputs[0]!;
  producer.outputs = [bnOut, ...producer.outputs.slice(1)];
  g.nodes = g.nodes.filter((n) => n !== bn);
  replaceUses(g, convOut, bnOut);
  g.valueInfo = g.valueInfo.filter((v) => v.name !== convOut);
}

function uniqueInitName(g: Graph, base: string): string {
  const used = new Set<string>([
    ...g.initializers.map((t) => t.name),
    ...g.nodes.flatMap((n) => [...n.inputs, ...n.outputs]),
  ]);
  let name = base;
  for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
  return name;
}
