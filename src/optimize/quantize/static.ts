/**
 * Static int8 quantization in QDQ form. Weights become int8 initializers (symmetric, per channel
 * by default) behind DequantizeLinear; activations get QuantizeLinear→DequantizeLinear pairs with
 * ranges from calibration (asymmetric uint8 by default); biases become int32 with
 * scale = input scale × weight scale. The layout follows onnxruntime's QDQ conventions so that its
 * graph optimizer fuses DQ→op→Q groups into int8 kernels (QLinearConv, QGemm, QLinearMatMul,
 * QLinearAdd, ...). Nodes onnxruntime cannot run quantized stay float and are reported with why.
 *
 * Steps: plan (which nodes and tensors, decided on the float graph), calibrate (ranges for the
 * planned tensors), apply (pure rewrite given the ranges).
 */
import { VergeError } from '../../errors.ts';
import {
  cloneModel,
  GraphBuilder,
  defaultOpset,
  numel,
  outChannelAxis,
  type Graph,
  type Model,
  type Node,
} from '../../onnx/browser.ts';
import { GraphIndex, floatAttr, intAttr } from '../passes/graph-index.ts';
import { prepareForQuantization } from './prepare.ts';
import { opsWithRole } from './ops.ts';
import { calibrate, type CalibrateOptions, type CalibrationData, type CalibrationResult } from './calibrate.ts';
import {
  affineParams,
  countOps,
  float32Data,
  inferElementTypes,
  modelBytes,
  nodeLabel,
  quantizeSymmetricInt8,
  roundHalfEven,
  INT8_REDUCED_MAX,
  INT8_SYMMETRIC_MAX,
  QRANGE,
  type ActivationRange,
  type QuantizeResult,
  type QuantParams,
  type SkippedNode,
} from './common.ts';
import { DEFAULT_MIN_REDUCTION_DEPTH } from './defaults.ts';

export interface StaticQuantizeOptions {
  /** Per-channel weight scales (default true; needs opset >= 13, else per-tensor). */
  perChannel?: boolean;
  /** Activation element type: asymmetric uint8 (default; the u8s8 VNNI path) or int8. */
  activationType?: 'uint8' | 'int8';
  /** Op types to quantize (default: every op verge knows how to quantize). */
  opTypes?: readonly string[];
  /** Node names to leave in float. */
  excludeNodes?: readonly string[];
  /**
   * Spatial convolutions (group 1, kernel larger than 1×1) whose reduction depth — input channels ×
   * kernel elements, the length of each output's dot product — is below this stay in float
   * (default {@link DEFAULT_MIN_REDUCTION_DEPTH}; 0 quantizes every Conv). onnxruntime's int8
   * convolution unfolds the input (im2col) and requantizes every output, which only pays off on
   * long enough dot products. Measured on one layer at batch 32 (one thread, AVX-512 VNNI),
   * int8/float time: depth 9 (1 channel 3×3) 1.5×, depth 18 1.6×, depth 27 1.0×, depth 36 0.8×;
   * 1×1 convolutions need no unfolding and win from depth 8 (0.75×). In the seed CNN the 1-channel
   * first layer alone made the int8 model a third slower than it needs to be.
   */
  minReductionDepth?: number;
  /**
   * 7-bit weights (±{@link INT8_REDUCED_MAX}, default false): for x86 CPUs without VNNI (AVX2 only,
   * or AVX-512 without VNNI), where onnxruntime's fused int8 kernels saturate with 8-bit weights —
   * measured on an AVX2-only AMD EPYC: the trained seed CNN lost 1.2 pt on 1,000 test images and an
   * int8-activation model's outputs fell to cosine 0.979 with 8-bit weights. Costs one bit of weight
   * precision; CPUs with VNNI (and ARM) do not need it.
   */
  reduceRange?: boolean;
}

export { DEFAULT_MIN_REDUCTION_DEPTH };

// The op sets of each role, from the quantizable-op records (ops.ts).
const WEIGHTED_OPS = opsWithRole('weighted');
const ARITHMETIC_OPS = opsWithRole('arithmetic');
const PASS_THROUGH_OPS = opsWithRole('pass-through');
const FOLDABLE_ACTIVATIONS = opsWithRole('activation');

export const STATIC_QUANTIZABLE_OPS: readonly string[] = Object.freeze([
  ...WEIGHTED_OPS,
  ...ARITHMETIC_OPS,
  ...PASS_THROUGH_OPS,
  ...FOLDABLE_ACTIVATIONS,
]);

/** How one activation tensor is quantized: with its own calibrated range, or sharing another's. */
type TensorPlan = { own: true } | { sameAs: string };

export interface StaticPlan {
  /** Node index → kind of quantization. */
  nodes: Map<number, 'weighted' | 'arithmetic' | 'pass-through'>;
  /** Index of a folded activation node → index of the node it folds into. */
  folded: Map<number, number>;
  tensors: Map<string, TensorPlan>;
  skipped: SkippedNode[];
  perChannel: boolean;
  notes: string[];
}

function clipLowerBound(n: Node, idx: GraphIndex): number | undefined {
  if (n.opType === 'Relu') return 0;
  if (n.inputs.length > 1) {
    if (!n.inputs[1]) return undefined;
    const t = idx.constant(n.inputs[1]);
    const d = t ? float32Data(t) : undefined;
    return d && d.length === 1 ? d[0] : undefined;
  }
  return n.attributes.min ? floatAttr(n, 'min', -Infinity) : undefined;
}

/** Decide, on the float graph, which nodes and tensors static quantization will touch. */
export function planStatic(model: Model, opts: StaticQuantizeOptions = {}): StaticPlan {
  const g = model.graph;
  const opset = defaultOpset(model) ?? 0;
  if (opset < 10)
    throw new VergeError(
      'E_UNSUPPORTED',
      `static quantization needs ONNX opset >= 10 (QuantizeLinear); this model uses ${opset}`,
    );
  const notes: string[] = [];
  let perChannel = opts.perChannel ?? true;
  if (perChannel && opset < 13) {
    perChannel = false;
    notes.push(`opset ${opset} < 13 has no per-axis DequantizeLinear: weights quantized per tensor`);
  }
  const idx = new GraphIndex(g);
  const types = inferElementTypes(model);
  const allowed = new Set(opts.opTypes ?? STATIC_QUANTIZABLE_OPS);
  const excluded = new Set(opts.excludeNodes ?? []);
  const minDepth = opts.minReductionDepth ?? DEFAULT_MIN_REDUCTION_DEPTH;
  if (!(minDepth >= 0)) throw new VergeError('E_BAD_ARGUMENT', `minimum reduction depth must be >= 0, got ${minDepth}`);
  const indexOf = new Map(g.nodes.map((n, i) => [n, i]));
  const plan: StaticPlan = { nodes: new Map(), folded: new Map(), tensors: new Map(), skipped: [], perChannel, notes };
  const isActivation = (v: string | undefined): v is string => !!v && !idx.constant(v) && types.get(v) === 'float32';
  const own = (v: string) => {
    if (!plan.tensors.has(v)) plan.tensors.set(v, { own: true });
  };
  const skip = (n: Node, i: number, reason: string) =>
    plan.skipped.push({ node: nodeLabel(n, i), op: n.opType, reason });
  /** Fold a following Relu/Clip(min 0) into node i's output; returns the tensor to quantize. */
  const outputOf = (i: number, n: Node): string => {
    const out = n.outputs[0]!;
    const next = idx.soleConsumer(out);
    if (
      next &&
      FOLDABLE_ACTIVATIONS.has(next.opType) &&
      allowed.has(next.opType) &&
      !excluded.has(next.name) &&
      clipLowerBound(next, idx) === 0
    ) {
      plan.folded.set(indexOf.get(next)!, i);
      return next.outputs[0]!;
    }
    return out;
  };

  g.nodes.forEach((n, i) => {
    if (plan.folded.has(i)) return;
    // nodes that never touch a float activation (Constant, Shape arithmetic) are not candidates
    if (!n.inputs.some(isActivation)) return;
    if (!isDefaultDomainOp(n)) return skip(n, i, `custom domain '${n.domain}'`);
    if (!allowed.has(n.opType)) {
      return skip(
        n,
        i,
        STATIC_QUANTIZABLE_OPS.includes(n.opType)
          ? 'op type not selected'
          : `onnxruntime has no int8 QDQ kernel for ${n.opType}; left in float`,
      );
    }
    if (excluded.has(n.name)) return skip(n, i, 'excluded by name');
    const x = n.inputs[0];
    if (WEIGHTED_OPS.has(n.opType)) {
      const why = weightedProblem(n, idx, isActivation) ?? thinConvolution(n, idx, minDepth);
      if (why) return skip(n, i, why);
      plan.nodes.set(i, 'weighted');
      own(x!);
      own(outputOf(i, n));
    } else if (ARITHMETIC_OPS.has(n.opType)) {
      const inputs = n.opType === 'Add' || n.opType === 'Mul' || n.opType === 'Concat' ? n.inputs : [x];
      if (!inputs.every(isActivation))
        return skip(n, i, 'an input is a constant or not float32 (quantized only between activations)');
      if (n.opType === 'AveragePool' && intAttr(n, 'count_include_pad', 0) !== 0) {
        return skip(n, i, 'AveragePool with count_include_pad has no QLinearAveragePool fusion');
      }
      plan.nodes.set(i, 'arithmetic');
      for (const v of inputs) own(v!);
      own(n.opType === 'Add' || n.opType === 'Mul' ? outputOf(i, n) : n.outputs[0]!);
    } else if (PASS_THROUGH_OPS.has(n.opType)) {
      if (n.outputs.length > 1 && n.outputs[1])
        return skip(n, i, `${n.opType} with a second (indices) output has no int8 kernel`);
      if (!x || !plan.tensors.has(x))
        return skip(n, i, 'input is not quantized, so there is nothing to pass through in int8');
      plan.nodes.set(i, 'pass-through');
      const out = n.outputs[0]!;
      if (!plan.tensors.has(out)) plan.tensors.set(out, { sameAs: x });
    } else {
      skip(
        n,
        i,
        `${n.opType} is only quantized when folded into a preceding quantized node (needs a lower bound of 0 and a sole consumer)`,
      );
    }
  });
  return plan;
}

function isDefaultDomainOp(n: Node): boolean {
  return n.domain === '' || n.domain === 'ai.onnx';
}

/** Why a Conv/Gemm/MatMul cannot become a QLinear kernel, or undefined when it can. */
function weightedProblem(
  n: Node,
  idx: GraphIndex,
  isActivation: (v: string | undefined) => boolean,
): string | undefined {
  if (!isActivation(n.inputs[0])) return 'input is not a float32 activation';
  const w = n.inputs[1] ? idx.constant(n.inputs[1]) : undefined;
  if (!w || w.dtype !== 'float32') return 'weight is not a constant float32 initializer';
  if (n.opType === 'Conv' && w.dims.length < 3) return 'Conv weight of rank < 3';
  if (n.opType !== 'Conv' && w.dims.length !== 2) return `${n.opType} weight is not 2-D`;
  if (n.opType === 'Gemm') {
    if (intAttr(n, 'transA', 0) !== 0) return 'Gemm with transA=1 has no QGemm fusion';
    if (floatAttr(n, 'alpha', 1) !== 1) return 'Gemm with alpha != 1';
    if (n.inputs[2] && floatAttr(n, 'beta', 1) !== 1) return 'Gemm with beta != 1';
  }
  const b = n.inputs[2];
  if (b && n.opType !== 'MatMul') {
    const bt = idx.constant(b);
    const outChannels = w.dims[outChannelAxis(n, w.dims.length)!]!;
    if (!bt || bt.dtype !== 'float32') return 'bias is not a constant float32 initializer';
    if (numel(bt.dims) !== outChannels || bt.dims.filter((d) => d !== 1).length > 1)
      return 'bias is not one value per output channel';
  }
  return undefined;
}

/** Why a Conv is too thin for int8 to pay off (see StaticQuantizeOptions.minReductionDepth), or undefined. */
function thinConvolution(n: Node, idx: GraphIndex, minDepth: number): string | undefined {
  if (n.opType !== 'Conv' || intAttr(n, 'group', 1) !== 1) return undefined; // depthwise has its own int8 kernel
  const w = idx.constant(n.inputs[1]!)!;
  if (numel(w.dims.slice(2)) <= 1) return undefined; // 1×1: no unfolding, int8 wins even when thin
  const depth = numel(w.dims.slice(1));
  if (depth >= minDepth) return undefined;
  return (
    `reduction depth ${depth} (in-channels × kernel) < ${minDepth}: onnxruntime's int8 convolution is ` +
    `slower than float on such short dot products; left in float (minimum reduction depth 0 quantizes it)`
  );
}

/** Elementwise activations f with max(f(a), f(b)) = f(max(a, b)): they commute with MaxPool. */
const MONOTONE_ACTIVATIONS = new Set(['Relu', 'Clip']);

/**
 * Arrange the float graph so onnxruntime keeps the planned quantization points. When a float node
 * (a Conv left in float, say) feeds Relu→MaxPool and the pooled tensor is quantized,
 * onnxruntime's QDQ propagation moves that QuantizeLinear up through the MaxPool and then runs the
 * pool on uint8 in NCHW layout — many times slower than the float pool it replaced. Swapping the
 * activation behind the pool (max commutes with a monotone activation, so values are identical,
 * and the activation then touches a quarter of the elements) stops the propagation at the
 * activation, which onnxruntime then folds into the QuantizeLinear. Returns the model to quantize
 * (the input itself when nothing moved) and its plan.
 */
export function planForOnnxRuntime(model: Model, opts: StaticQuantizeOptions = {}): { model: Model; plan: StaticPlan } {
  const plan = planStatic(model, opts);
  const g = model.graph;
  const idx = new GraphIndex(g);
  const producer = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));
  const swaps: [number, number][] = [];
  g.nodes.forEach((act, i) => {
    if (!MONOTONE_ACTIVATIONS.has(act.opType) || plan.folded.has(i) || !isDefaultDomainOp(act)) return;
    const p = producer.get(act.inputs[0] ?? '');
    if (p === undefined || plan.nodes.has(p)) return; // a quantized producer keeps its folded activation
    const out = act.outputs[0]!;
    const pool = idx.soleConsumer(out);
    if (!pool || pool.opType !== 'MaxPool' || idx.graphOutputs.has(out) || !isDefaultDomainOp(pool)) return;
    if (pool.outputs.length > 1 && pool.outputs[1]) return; // indices output: values of the pre-activation input
    if (!plan.tensors.has(pool.outputs[0]!)) return;
    swaps.push([i, g.nodes.indexOf(pool)]);
  });
  if (swaps.length === 0) return { model, plan };
  const out = cloneModel(model);
  const used = new Set<string>();
  for (const n of out.graph.nodes) for (const v of [...n.inputs, ...n.outputs]) if (v) used.add(v);
  const notes: string[] = [];
  for (const [ai, pi] of swaps) {
    const act = out.graph.nodes[ai]!;
    const pool = out.graph.nodes[pi]!;
    let pooled = `${act.outputs[0]}_pooled`;
    for (let k = 1; used.has(pooled); k++) pooled = `${act.outputs[0]}_pooled_${k}`;
    used.add(pooled);
    const pooledName = pool.outputs[0]!;
    pool.inputs = [act.inputs[0]!, ...pool.inputs.slice(1)];
    pool.outputs = [pooled];
    act.inputs = [pooled, ...act.inputs.slice(1)];
    act.outputs = [pooledName];
    // the pool now runs first: exchange their places in the (topologically sorted) node list
    out.graph.nodes[ai] = pool;
    out.graph.nodes[pi] = act;
    notes.push(
      `${act.opType} '${act.name}' moved behind MaxPool '${pool.name}' (same values) so onnxruntime quantizes after the pool instead of pooling uint8 in NCHW`,
    );
  }
  // value_info of the moved tensors no longer describes them
  const moved = new Set(swaps.map(([ai]) => model.graph.nodes[ai]!.outputs[0]!));
  out.graph.valueInfo = out.graph.valueInfo.filter((v) => !moved.has(v.name));
  const replanned = planStatic(out, opts);
  replanned.notes.push(...notes);
  return { model: out, plan: replanned };
}

/** Activation tensors that need a calibrated range for this plan (names in the float graph). */
export function calibrationTensors(plan: StaticPlan): string[] {
  return [...plan.tensors].filter(([, p]) => 'own' in p).map(([t]) => t);
}

function rootOf(plan: StaticPlan, t: string): string {
  let cur = t;
  for (let p = plan.tensors.get(cur); p && 'sameAs' in p; p = plan.tensors.get(cur)) cur = p.sameAs;
  return cur;
}

/**
 * Rewrite `model` into QDQ form given calibrated `ranges` for the plan's tensors. Pure: the input
 * model is not modified.
 * Long because: the QDQ rewrite in one pass, with the per-tensor Q/DQ parameters it shares in the
 * closure; the per-node rewrite is the forEach body.
 */
export function applyStatic(
  model: Model,
  plan: StaticPlan,
  ranges: Record<string, ActivationRange>,
  opts: StaticQuantizeOptions = {},
): QuantizeResult {
  const qtype = opts.activationType ?? 'uint8';
  if (!(qtype in QRANGE))
    throw new VergeError('E_BAD_ARGUMENT', `activation type must be uint8 or int8, got ${String(qtype)}`);
  const weightMax = opts.reduceRange ? INT8_REDUCED_MAX : INT8_SYMMETRIC_MAX;
  const out = cloneModel(model);
  const g = out.graph;
  const b = new GraphBuilder(emptyLike(g));
  // the builder must know every name already used in g
  for (const n of g.nodes) for (const v of [...n.inputs, ...n.outputs, n.name]) if (v) b.uniqueName(v);
  for (const t of g.initializers) b.uniqueName(t.name);
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) b.uniqueName(v.name);
  const idx = new GraphIndex(g);
  const graphInputs = new Set(g.inputs.map((i) => i.name));

  // Q/DQ parameters per root tensor, as shared initializers
  const params = new Map<string, { p: QuantParams; scale: string; zero: string }>();
  const paramsOf = (t: string) => {
    const root = rootOf(plan, t);
    let e = params.get(root);
    if (!e) {
      const r = ranges[root];
      if (!r || !Number.isFinite(r.min) || !Number.isFinite(r.max)) {
        throw new VergeError('E_BAD_ARGUMENT', `no calibrated range for tensor '${root}'`);
      }
      const p = affineParams(r, qtype);
      e = {
        p,
        scale: b.initializer(`${root}_scale`, 'float32', [], [p.scale]),
        zero: b.initializer(`${root}_zero_point`, qtype, [], [p.zeroPoint]),
      };
      params.set(root, e);
    }
    return e;
  };

  const nodes: Node[] = [];
  const emit = (op: string, inputs: string[], outputs: string[], attrs: Node['attributes'] = {}) => {
    nodes.push({
      name: b.uniqueName(`${outputs[0]}_${op}`),
      opType: op,
      domain: '',
      inputs,
      outputs,
      attributes: attrs,
    });
  };
  const qdq = (src: string, dst: string, t: string) => {
    const { scale, zero } = paramsOf(t);
    const q = b.uniqueName(`${t}_quantized`);
    emit('QuantizeLinear', [src, scale, zero], [q]);
    emit('DequantizeLinear', [q, scale, zero], [dst]);
  };

  // Activation graph inputs: quantize at the top, and have every consumer read the dequantized copy.
  const inputRename = new Map<string, string>();
  for (const t of plan.tensors.keys()) {
    if (!graphInputs.has(t)) continue;
    const dq = b.uniqueName(`${t}_dequantized`);
    qdq(t, dq, t);
    inputRename.set(t, dq);
  }

  const removedInitializers = new Set<string>();
  const quantizedOps: Node[] = [];
  let weightsQuantized = 0;
  g.nodes.forEach((orig, i) => {
    if (plan.folded.has(i)) return;
    const n: Node = { ...orig, inputs: orig.inputs.map((v) => inputRename.get(v) ?? v), outputs: [...orig.outputs] };
    const kind = plan.nodes.get(i);
    // The output a folded Relu/Clip used to produce is now produced by this node.
    for (const [fi, pi] of plan.folded) if (pi === i) n.outputs[0] = g.nodes[fi]!.outputs[0]!;
    if (kind === 'weighted') {
      weightsQuantized++;
      const wName = orig.inputs[1]!;
      const w = idx.constant(wName)!;
      const axis = plan.perChannel ? outChannelAxis(orig, w.dims.length) : undefined;
      const { q, scales } = quantizeSymmetricInt8(float32Data(w)!, w.dims, axis, weightMax);
      const perAxis = axis !== undefined;
      const sdims = perAxis ? [scales.length] : [];
      const wq = b.initializer(`${wName}_quantized`, 'int8', w.dims, q);
      const ws = b.initializer(`${wName}_scale`, 'float32', sdims, scales);
      const wz = b.initializer(`${wName}_zero_point`, 'int8', sdims);
      const wdq = b.uniqueName(`${wName}_dequantized`);
      emit('DequantizeLinear', [wq, ws, wz], [wdq], perAxis ? { axis: { type: 'int', value: axis } } : {});
      n.inputs[1] = wdq;
      removedInitializers.add(wName);
      const biasName = orig.inputs[2];
      if (biasName && orig.opType !== 'MatMul') {
        const bias = float32Data(idx.constant(biasName)!)!;
        const inScale = paramsOf(orig.inputs[0]!).p.scale;
        const bscale = new Float32Array(bias.length);
        const bq = new Int32Array(bias.length);
        for (let c = 0; c < bias.length; c++) {
          bscale[c] = inScale * scales[perAxis ? c : 0]!;
          bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(bias[c]! / bscale[c]!)));
        }
        const bdims = perAxis ? [bias.length] : [];
        const bqName = b.initializer(`${biasName}_quantized`, 'int32', [bias.length], bq);
        const bsName = b.initializer(`${biasName}_scale`, 'float32', bdims, perAxis ? bscale : bscale.subarray(0, 1));
        const bdq = b.uniqueName(`${biasName}_dequantized`);
        // no zero point input: it defaults to 0 of the int32 input type, and saves 4 bytes per channel
        emit('DequantizeLinear', [bqName, bsName], [bdq], perAxis ? { axis: { type: 'int', value: 0 } } : {});
        n.inputs[2] = bdq;
        removedInitializers.add(biasName);
      }
    }
    // Quantized outputs: the producer writes `<t>_float`, Q→DQ restores `<t>` for every consumer.
    const post: [string, string][] = [];
    n.outputs = n.outputs.map((o) => {
      if (!o || !plan.tensors.has(o) || graphInputs.has(o)) return o;
      const f = b.uniqueName(`${o}_float`);
      post.push([f, o]);
      return f;
    });
    nodes.push(n);
    if (kind) quantizedOps.push(orig);
    for (const [f, o] of post) qdq(f, o, o);
  });

  // Replace the float weights that no float node still reads.
  const stillUsed = new Set(nodes.flatMap((n) => n.inputs));
  g.initializers = g.initializers.filter((t) => !removedInitializers.has(t.name) || stillUsed.has(t.name));
  g.initializers.push(...b.graph.initializers);
  g.nodes = nodes;
  // value_info of renamed tensors would now describe the wrong values; onnxruntime re-infers shapes.
  const quantizedNames = new Set(plan.tensors.keys());
  g.valueInfo = g.valueInfo.filter((v) => !quantizedNames.has(v.name));

  const folded = [...plan.folded.keys()].map((fi) => model.graph.nodes[fi]!);
  const quantized_ops = countOps([...quantizedOps, ...folded]);
  return {
    model: out,
    report: {
      mode: 'static',
      quantized_nodes: quantizedOps.length + folded.length,
      quantized_ops,
      skipped: plan.skipped,
      bytes_in: modelBytes(model),
      bytes_out: modelBytes(out),
      per_channel: plan.perChannel,
      activation_type: qtype,
      weight_range: `±${weightMax}`,
      weights_quantized: weightsQuantized,
      folded_activations: folded.length,
      notes: plan.notes,
    },
  };
}

function emptyLike(g: Graph): Graph {
  return { name: g.name, nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [] };
}

/** Static quantization with ranges already known (pure; see quantizeStaticCalibrated for the whole flow). */
export function quantizeStatic(
  model: Model,
  ranges: Record<string, ActivationRange>,
  opts: StaticQuantizeOptions = {},
): QuantizeResult {
  const arranged = planForOnnxRuntime(model, opts);
  const res = applyStatic(arranged.model, arranged.plan, ranges, opts);
  res.report.bytes_in = modelBytes(model);
  return res;
}

export interface CalibratedStaticOptions extends StaticQuantizeOptions, CalibrateOptions {
  /** Fold BatchNormalization/Constant/Identity first (default true; see prepare.ts). */
  prepare?: boolean;
}

/** Plan, calibrate on `data`, and rewrite: the whole static quantization flow. */
export async function quantizeStaticCalibrated(
  model: Model,
  data: CalibrationData,
  opts: CalibratedStaticOptions,
): Promise<QuantizeResult> {
  const prepared = opts.prepare === false ? { model, report: undefined } : prepareForQuantization(model);
  const { model: arranged, plan } = planForOnnxRuntime(prepared.model, opts);
  const tensors = calibrationTensors(plan);
  let cal: CalibrationResult | undefined;
  if (tensors.length > 0) cal = await calibrate(arranged, tensors, data, opts);
  const res = applyStatic(arranged, plan, cal?.ranges ?? {}, opts);
  res.report.bytes_in = modelBytes(model);
  if (prepared.report) res.report.prepare = prepared.report;
  res.report.calibration = {
    method: opts.method,
    ...(opts.method === 'percentile' ? { percentile: opts.percentile ?? 99.99 } : {}),
    source: data.source,
    samples: data.samples,
    tensors: tensors.length,
    // how much the calibrator narrowed the observed ranges, on average (1 = min-max)
    mean_range_fraction: cal ? meanRangeFraction(cal) : 1,
  };
  return res;
}

function meanRangeFraction(cal: CalibrationResult): number {
  let s = 0;
  let k = 0;
  for (const [t, r] of Object.entries(cal.ranges)) {
    const o = cal.observed[t]!;
    const w = o.max - o.min;
    if (w > 0) {
      s += (r.max - r.min) / w;
      k++;
    }
  }
  return k ? Math.round((s / k) * 1e4) / 1e4 : 1;
}
