/**
 * Dynamic int8 quantization: weights are stored int8 (symmetric, per tensor or per output
 * channel); activations are quantized at run time by DynamicQuantizeLinear (uint8, range of each
 * batch), multiplied in integers by MatMulInteger / ConvInteger, and rescaled to float by
 * x_scale × w_scale. Only standard ONNX ops are emitted; onnxruntime's optimizer fuses the
 * MatMul pattern into its com.microsoft DynamicQuantizeMatMul / MatMulIntegerToFloat kernels.
 * No calibration data is needed.
 */
import { VergeError } from '../../errors.ts';
import {
  cloneModel,
  computeLayout,
  GraphBuilder,
  defaultOpset,
  layoutAxis,
  numel,
  outChannelAxis,
  type Graph,
  type Model,
  type Node,
} from '../../onnx/browser.ts';
import { GraphIndex, floatAttr, intAttr } from '../passes/graph-index.ts';
import { prepareForQuantization } from './prepare.ts';
import { QUANTIZABLE_OPS } from './ops.ts';
import {
  countOps,
  float32Data,
  inferElementTypes,
  modelBytes,
  nodeLabel,
  quantizeSymmetricInt8,
  type QuantizeResult,
  type SkippedNode,
} from './common.ts';

export interface DynamicQuantizeOptions {
  /** Per-output-channel weight scales (default true). */
  perChannel?: boolean;
  /** Op types to quantize (default MatMul, Gemm, Conv). */
  opTypes?: readonly string[];
  excludeNodes?: readonly string[];
  /** Fold BatchNormalization/Constant/Identity first (default true; see prepare.ts). */
  prepare?: boolean;
}

export const DYNAMIC_QUANTIZABLE_OPS: readonly string[] = Object.freeze(
  QUANTIZABLE_OPS.filter((r) => r.dynamic).map((r) => r.op),
);
/**
 * Measured with bench/quantize (seed CNN, B=32, one thread): onnxruntime's ConvInteger runs about
 * 12× slower than its float Conv, while DynamicQuantizeMatMul is on par with float Gemm. Dynamic Conv
 * still shrinks the file, so it stays available, with this warning in the report.
 */
export const DYNAMIC_CONV_NOTE =
  "onnxruntime's ConvInteger kernel is much slower than float Conv; for the latency of convolutional models use static int8";
/** DynamicQuantizeLinear, MatMulInteger and ConvInteger: opset 10/11. */
const MIN_OPSET = 11;

/** Dynamic int8 quantization of MatMul/Gemm/Conv with constant weights. Pure. */
export function quantizeDynamic(input: Model, opts: DynamicQuantizeOptions = {}): QuantizeResult {
  const prepared = opts.prepare === false ? { model: input, report: undefined } : prepareForQuantization(input);
  const model = prepared.model;
  const opset = defaultOpset(model) ?? 0;
  if (opset < MIN_OPSET)
    throw new VergeError(
      'E_UNSUPPORTED',
      `dynamic quantization needs ONNX opset >= ${MIN_OPSET}; this model uses ${opset}`,
    );
  const perChannel = opts.perChannel ?? true;
  const allowed = new Set(opts.opTypes ?? DYNAMIC_QUANTIZABLE_OPS);
  const excluded = new Set(opts.excludeNodes ?? []);
  const out = cloneModel(model);
  const g = out.graph;
  const idx = new GraphIndex(g);
  const types = inferElementTypes(out);
  const b = new GraphBuilder(scratch(g));
  for (const n of g.nodes) for (const v of [...n.inputs, ...n.outputs, n.name]) if (v) b.uniqueName(v);
  for (const t of g.initializers) b.uniqueName(t.name);
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) b.uniqueName(v.name);

  const skipped: SkippedNode[] = [];
  const quantized: Node[] = [];
  const nodes: Node[] = [];
  const replaced = new Set<string>();
  const emit = (op: string, inputs: string[], attrs: Node['attributes'] = {}, outName?: string): string => {
    const o = outName ?? b.uniqueName(`${inputs[0]}_${op}`);
    nodes.push({ name: b.uniqueName(`${o}_${op}`), opType: op, domain: '', inputs, outputs: [o], attributes: attrs });
    return o;
  };
  // One DynamicQuantizeLinear per activation, shared by all its quantized consumers.
  const dql = new Map<string, [string, string, string]>();
  const quantizeActivation = (x: string): [string, string, string] => {
    let e = dql.get(x);
    if (!e) {
      const q = b.uniqueName(`${x}_quantized`);
      const s = b.uniqueName(`${x}_scale`);
      const z = b.uniqueName(`${x}_zero_point`);
      nodes.push({
        name: b.uniqueName(`${x}_DynamicQuantizeLinear`),
        opType: 'DynamicQuantizeLinear',
        domain: '',
        inputs: [x],
        outputs: [q, s, z],
        attributes: {},
      });
      e = [q, s, z];
      dql.set(x, e);
    }
    return e;
  };

  g.nodes.forEach((n, i) => {
    const why = !allowed.has(n.opType)
      ? undefined
      : excluded.has(n.name)
        ? 'excluded by name'
        : problem(n, idx, types.get(n.inputs[0] ?? ''));
    if (!allowed.has(n.opType) || why) {
      if (why) skipped.push({ node: nodeLabel(n, i), op: n.opType, reason: why });
      nodes.push(n);
      return;
    }
    rewriteWeighted(n, { b, idx, perChannel, replaced, emit, quantizeActivation });
    quantized.push(n);
  });

  const used = new Set(nodes.flatMap((n) => n.inputs));
  g.initializers = g.initializers.filter((t) => !replaced.has(t.name) || used.has(t.name));
  g.initializers.push(...b.graph.initializers);
  g.nodes = nodes;
  return {
    model: out,
    report: {
      mode: 'dynamic',
      quantized_nodes: quantized.length,
      quantized_ops: countOps(quantized),
      skipped,
      bytes_in: modelBytes(input),
      bytes_out: modelBytes(out),
      per_channel: perChannel,
      notes: quantized.some((n) => n.opType === 'Conv') ? [DYNAMIC_CONV_NOTE] : [],
      ...(prepared.report ? { prepare: prepared.report } : {}),
    },
  };
}

/** What rewriting one node needs from quantizeDynamic: its builder, index and output lists. */
interface RewriteContext {
  b: GraphBuilder;
  idx: GraphIndex;
  perChannel: boolean;
  /** Float initializers the rewrite replaces (dropped when nothing else reads them). */
  replaced: Set<string>;
  emit(op: string, inputs: string[], attrs?: Node['attributes'], outName?: string): string;
  /** The DynamicQuantizeLinear outputs [q, scale, zero point] of an activation (one per activation). */
  quantizeActivation(x: string): [string, string, string];
}

/**
 * Emits the integer form of one Conv/Gemm/MatMul with a constant float32 weight: the weight as int8
 * (symmetric, per channel or per tensor), ConvInteger/MatMulInteger over the quantized activation,
 * the rescale by x_scale × w_scale (alpha folded in) and the bias (beta folded in), writing the
 * node's output name.
 */
function rewriteWeighted(n: Node, ctx: RewriteContext): void {
  const { b, idx, perChannel, replaced, emit } = ctx;
  const wName = n.inputs[1]!;
  const w = idx.constant(wName)!;
  let wdata = float32Data(w)!;
  let wdims = w.dims;
  // Gemm with transB: MatMulInteger wants B as [K, N], so transpose the constant once here.
  if (n.opType === 'Gemm' && intAttr(n, 'transB', 0)) {
    const [N, K] = wdims as [number, number];
    const t = new Float32Array(wdata.length);
    for (let r = 0; r < N; r++) for (let c = 0; c < K; c++) t[c * N + r] = wdata[r * K + c]!;
    wdata = t;
    wdims = [K, N];
  }
  // the integer op emitted, and its weight's output-channel axis in the layout table (Gemm's B
  // is [K, N] by now, as MatMulInteger reads it)
  const intOp = n.opType === 'Conv' ? 'ConvInteger' : 'MatMulInteger';
  const axis = perChannel ? integerWeightAxis(intOp, wdims.length) : undefined;
  const { q, scales } = quantizeSymmetricInt8(wdata, wdims, axis);
  const channels = scales.length;
  const wq = b.initializer(`${wName}_quantized`, 'int8', wdims, q);
  // Symmetric weights: every zero point is 0, so one scalar serves all channels (ConvInteger
  // in onnxruntime only accepts a scalar weight zero point); per-channel scales apply after.
  const wz = b.initializer(`${wName}_zero_point`, 'int8', []);
  replaced.add(wName);
  const [xq, xs, xz] = ctx.quantizeActivation(n.inputs[0]!);
  let acc: string;
  let scaleShape: number[];
  if (intOp === 'ConvInteger') {
    acc = emit(intOp, [xq, wq, xz, wz], n.attributes);
    // per-channel scales broadcast over [N, M, spatial...]
    scaleShape = perChannel ? [1, channels, ...new Array(wdims.length - 2).fill(1)] : [];
  } else {
    acc = emit(intOp, [xq, wq, xz, wz]);
    scaleShape = perChannel ? [channels] : [];
  }
  let alpha = n.opType === 'Gemm' ? floatAttr(n, 'alpha', 1) : 1;
  const wsData = alpha === 1 ? scales : scales.map((s) => s * alpha);
  alpha = 1;
  const ws = b.initializer(`${wName}_scale`, 'float32', scaleShape, wsData);
  // Pattern onnxruntime's MatMulIntegerToFloat fusion looks for: Cast(int32→float) × (x_scale × w_scale).
  const scale = emit('Mul', [xs, ws]);
  const accF = emit('Cast', [acc], { to: { type: 'int', value: 1 } });
  const biasName = n.opType === 'MatMul' ? undefined : n.inputs[2];
  const y = n.outputs[0]!;
  if (!biasName) {
    emit('Mul', [accF, scale], {}, y);
  } else {
    const scaled = emit('Mul', [accF, scale]);
    const bias = idx.constant(biasName)!;
    const bdata = float32Data(bias)!;
    const beta = n.opType === 'Gemm' ? floatAttr(n, 'beta', 1) : 1;
    const bdims = n.opType === 'Conv' ? [1, bdata.length, ...new Array(wdims.length - 2).fill(1)] : bias.dims;
    const bName = b.initializer(
      `${biasName}_bias`,
      'float32',
      bdims,
      beta === 1 ? Float32Array.from(bdata) : bdata.map((v) => v * beta),
    );
    replaced.add(biasName);
    emit('Add', [scaled, bName], {}, y);
  }
}

/** The output-channel axis of the weight of a ConvInteger/MatMulInteger node (onnx/weights.ts). */
function integerWeightAxis(opType: 'ConvInteger' | 'MatMulInteger', rank: number): number {
  const layout = computeLayout({ name: '', opType, domain: '', inputs: [], outputs: [], attributes: {} })!;
  return layoutAxis(layout.outAxis, rank);
}

function scratch(g: Graph): Graph {
  return { name: g.name, nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [] };
}

/** Why a node cannot be dynamically quantized, or undefined. */
function problem(n: Node, idx: GraphIndex, inputType: string | undefined): string | undefined {
  if (inputType !== 'float32') return `input is ${inputType ?? 'of unknown type'}, not float32`;
  const w = n.inputs[1] ? idx.constant(n.inputs[1]) : undefined;
  if (!w || w.dtype !== 'float32') return 'weight is not a constant float32 initializer';
  if (n.opType === 'Conv' && w.dims.length < 3) return 'Conv weight of rank < 3';
  if (n.opType !== 'Conv' && w.dims.length !== 2) return `${n.opType} weight is not 2-D`;
  if (n.opType === 'Gemm' && intAttr(n, 'transA', 0) !== 0) return 'Gemm with transA=1';
  const bias = n.opType === 'MatMul' ? undefined : n.inputs[2];
  if (bias) {
    const bt = idx.constant(bias);
    if (!bt || bt.dtype !== 'float32') return 'bias is not a constant float32 initializer';
    const outChannels = w.dims[outChannelAxis(n, w.dims.length)!]!;
    if (n.opType === 'Conv' && numel(bt.dims) !== outChannels) return 'Conv bias is not one value per output channel';
  }
  return undefined;
}
