/**
 * ONNX operators verge exports to TFLite builtins, one record each (the mirror of ./ops/). Adding
 * an operator = a record here; test/tflite/export.test.ts round-trips models through them.
 */
import { VergeError } from '../errors.ts';
import { deepFreeze } from '../frozen.ts';
import type { Attribute, Node } from '../onnx/browser.ts';
import { NHWC_FROM_NCHW, type ExportContext } from './export-context.ts';
import { RECURRENT_EXPORTERS } from './export-recurrent.ts';
import {
  ACTIVATION,
  BUILTIN,
  CONCATENATION_OPTIONS,
  CONV_2D_OPTIONS,
  DEPTHWISE_CONV_2D_OPTIONS,
  ELEMENTWISE_OPTIONS,
  FULLY_CONNECTED_OPTIONS,
  OPTIONS_TYPE,
  PADDING,
  POOL_2D_OPTIONS,
  REDUCER_OPTIONS,
  RESHAPE_OPTIONS,
  SOFTMAX_OPTIONS,
} from './schema.ts';

export interface TfliteExporter {
  /** The ONNX operator (default domain). */
  readonly onnx: string;
  /**
   * TFLite runs it on int8 tensors (a quantized model's quantized node exports as an int8
   * operator); 'same-scale': only when input and output share their quantization (TFLite's and
   * Arm NN's int8 pools require it), else it runs float between DEQUANTIZE and QUANTIZE.
   */
  readonly int8?: boolean | 'same-scale';
  export(ctx: ExportContext, node: Node): void;
}

function attr(node: Node, name: string): Attribute | undefined {
  return node.attributes[name];
}
function intAttr(node: Node, name: string, fallback: number): number {
  const a = attr(node, name);
  return a && a.type === 'int' ? a.value : fallback;
}
function intsAttr(node: Node, name: string): number[] | undefined {
  const a = attr(node, name);
  return a && a.type === 'ints' ? a.value : undefined;
}
function floatAttr(node: Node, name: string, fallback: number): number {
  const a = attr(node, name);
  return a && a.type === 'float' ? a.value : fallback;
}
function unsupported(node: Node, why: string): VergeError {
  return new VergeError('E_UNSUPPORTED', `${node.opType} '${node.name || node.outputs[0]}': ${why}`);
}
function imageInput(ctx: ExportContext, node: Node) {
  const x = ctx.value(node.inputs[0]!);
  if (ctx.shape(node.inputs[0]!).length === 3)
    throw unsupported(node, 'a 1-D operation (3-D input N, C, L) is not exported to TFLite yet');
  if (!x.nhwc) throw unsupported(node, 'TFLite export needs a 4-D image input (N, C, H, W)');
  return x;
}
const int8 = (slot: number, value: number) => ({ slot, kind: 'int8' as const, value });
const int32 = (slot: number, value: number) => ({ slot, kind: 'int32' as const, value });

/**
 * TFLite's SAME or VALID for ONNX pads, or undefined when neither matches (TF SAME pads the
 * total (ceil(in/stride) - 1)·stride + (kernel - 1)·dilation + 1 - in, the odd one at the end).
 */
function tflitePadding(node: Node, input: number[], kernel: number[], strides: number[], dilations: number[]) {
  const autoPad = attr(node, 'auto_pad');
  const mode = autoPad?.type === 'string' ? autoPad.value : 'NOTSET';
  if (mode === 'VALID') return PADDING.VALID;
  if (mode === 'SAME_UPPER') return PADDING.SAME;
  const pads = intsAttr(node, 'pads') ?? [0, 0, 0, 0];
  if (mode === 'NOTSET' && pads.every((p) => p === 0)) return PADDING.VALID;
  const same = input.map((size, i) => {
    const total = Math.max(
      0,
      (Math.ceil(size / strides[i]!) - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - size,
    );
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  });
  if (mode === 'NOTSET' && same.every(([b, e], i) => pads[i] === b && pads[i + 2] === e)) return PADDING.SAME;
  return undefined;
}

function window(node: Node, input: number[]) {
  const kernel = intsAttr(node, 'kernel_shape')!;
  const strides = intsAttr(node, 'strides') ?? [1, 1];
  const dilations = intsAttr(node, 'dilations') ?? [1, 1];
  return { kernel, strides, dilations, padding: tflitePadding(node, input.slice(2), kernel, strides, dilations) };
}

/** Conv → CONV_2D (group 1) or DEPTHWISE_CONV_2D (group = input channels). Other pads: a PAD first. */
const conv: TfliteExporter = {
  onnx: 'Conv',
  int8: true,
  export(ctx, node) {
    let x = imageInput(ctx, node).index;
    const xShape = ctx.shape(node.inputs[0]!);
    const w = ctx.constant(node.inputs[1]!);
    const [outC, inPerGroup, kh, kw] = w.dims as [number, number, number, number];
    const group = intAttr(node, 'group', 1);
    const win = window(node, xShape);
    win.kernel = [kh, kw];
    let padding = win.padding;
    if (padding === undefined) {
      const p = intsAttr(node, 'pads')!;
      const paddings = ctx.intConstant(`${node.outputs[0]}_paddings`, [4, 2], [0, 0, p[0]!, p[2]!, p[1]!, p[3]!, 0, 0]);
      const padded = ctx.scratch(
        `${node.outputs[0]}_padded`,
        [xShape[0]!, xShape[2]! + p[0]! + p[2]!, xShape[3]! + p[1]! + p[3]!, xShape[1]!],
        x,
      );
      ctx.emit(BUILTIN.PAD, [x, paddings], [padded], { type: OPTIONS_TYPE.PadOptions, fields: [] });
      x = padded;
      padding = PADDING.VALID;
    }
    // TFLite's int8 kernels take the bias as int32 at scale input × weight: none rather than a guessed one
    const bias = node.inputs[2]
      ? [ctx.permutedConstant(node.inputs[2])]
      : ctx.int8
        ? []
        : [ctx.floatConstant(`${node.outputs[0]}_bias`, [outC], new Float32Array(outC))];
    const common = [int8(0, padding), int32(1, win.strides[1]!), int32(2, win.strides[0]!)];
    const y = ctx.define(node.outputs[0]!, true);
    if (group === 1) {
      const weights = ctx.permutedConstant(node.inputs[1]!, [0, 2, 3, 1]);
      const fields = [
        ...common,
        int8(CONV_2D_OPTIONS.activation, ACTIVATION.NONE),
        int32(CONV_2D_OPTIONS.dilationW, win.dilations[1]!),
        int32(CONV_2D_OPTIONS.dilationH, win.dilations[0]!),
      ];
      ctx.emit(
        BUILTIN.CONV_2D,
        [x, weights, ...bias],
        [y],
        { type: OPTIONS_TYPE.Conv2DOptions, fields },
        CONV_2D_OPTIONS.activation,
      );
    } else if (group === xShape[1] && inPerGroup === 1) {
      const weights = ctx.permutedConstant(node.inputs[1]!, [1, 2, 3, 0]);
      const O = DEPTHWISE_CONV_2D_OPTIONS;
      const fields = [
        ...common,
        int32(O.depthMultiplier, outC / group),
        int8(O.activation, ACTIVATION.NONE),
        int32(O.dilationW, win.dilations[1]!),
        int32(O.dilationH, win.dilations[0]!),
      ];
      ctx.emit(
        BUILTIN.DEPTHWISE_CONV_2D,
        [x, weights, ...bias],
        [y],
        { type: OPTIONS_TYPE.DepthwiseConv2DOptions, fields },
        O.activation,
      );
    } else throw unsupported(node, `grouped convolution (group ${group}) other than depthwise`);
  },
};

function pool(onnx: 'MaxPool' | 'AveragePool', builtin: number): TfliteExporter {
  return {
    onnx,
    int8: 'same-scale',
    export(ctx, node) {
      const x = imageInput(ctx, node).index;
      const win = window(node, ctx.shape(node.inputs[0]!));
      if (intAttr(node, 'ceil_mode', 0) !== 0 || win.dilations.some((d) => d !== 1))
        throw unsupported(node, 'ceil_mode and dilations have no TFLite equivalent');
      if (win.padding === undefined || (win.padding === PADDING.SAME && intAttr(node, 'count_include_pad', 0) !== 0))
        throw unsupported(node, 'pads other than TFLite SAME/VALID (excluding padding from averages)');
      const O = POOL_2D_OPTIONS;
      const fields = [
        int8(O.padding, win.padding),
        int32(O.strideW, win.strides[1]!),
        int32(O.strideH, win.strides[0]!),
        int32(O.filterW, win.kernel[1]!),
        int32(O.filterH, win.kernel[0]!),
        int8(O.activation, ACTIVATION.NONE),
      ];
      const y = ctx.define(node.outputs[0]!, true);
      ctx.emit(builtin, [x], [y], { type: OPTIONS_TYPE.Pool2DOptions, fields }, O.activation);
    },
  };
}

/** MEAN over NHWC axes (constant int32 axes tensor). */
function mean(ctx: ExportContext, node: Node, x: { index: number; nhwc: boolean }, axes: number[], keep: boolean) {
  const rank = ctx.shape(node.inputs[0]!).length;
  const norm = axes.map((a) => (a < 0 ? a + rank : a));
  const tflAxes = x.nhwc ? norm.map((a) => NHWC_FROM_NCHW.indexOf(a)) : norm;
  // without keepdims an NHWC mean keeps NHWC's dim order: fine only if it equals NCHW's
  const rest = (x.nhwc ? [...NHWC_FROM_NCHW] : []).filter((d) => !norm.includes(d));
  if (x.nhwc && !keep && rest.some((d, i) => i > 0 && d < rest[i - 1]!))
    throw unsupported(node, 'a mean that leaves channels before spatial dims');
  const axesT = ctx.intConstant(`${node.outputs[0]}_axes`, [tflAxes.length], tflAxes);
  const y = ctx.define(node.outputs[0]!, x.nhwc && keep);
  ctx.emit(BUILTIN.MEAN, [x.index, axesT], [y], {
    type: OPTIONS_TYPE.ReducerOptions,
    fields: [{ slot: REDUCER_OPTIONS.keepDims, kind: 'bool', value: keep }],
  });
}

const reduceMean: TfliteExporter = {
  onnx: 'ReduceMean',
  int8: true,
  export(ctx, node) {
    const rank = ctx.shape(node.inputs[0]!).length;
    const axes = intsAttr(node, 'axes') ?? (node.inputs[1] ? ctx.ints(node.inputs[1]) : [...Array(rank).keys()]);
    mean(ctx, node, ctx.value(node.inputs[0]!), axes, intAttr(node, 'keepdims', 1) === 1);
  },
};

const globalAveragePool: TfliteExporter = {
  onnx: 'GlobalAveragePool',
  int8: true,
  export: (ctx, node) => mean(ctx, node, imageInput(ctx, node), [2, 3], true),
};

/** Gemm (alpha = beta = 1, no transA) and MatMul by a constant → FULLY_CONNECTED with [out, in] weights. */
function fullyConnected(onnx: 'Gemm' | 'MatMul'): TfliteExporter {
  return {
    onnx,
    int8: true,
    export(ctx, node) {
      if (floatAttr(node, 'alpha', 1) !== 1 || floatAttr(node, 'beta', 1) !== 1 || intAttr(node, 'transA', 0) !== 0)
        throw unsupported(node, 'alpha, beta and transA other than 1, 1, 0');
      const x = ctx.value(node.inputs[0]!, { flattened: true });
      const xShape = ctx.shape(node.inputs[0]!);
      if (xShape.length !== 2 && (onnx === 'Gemm' || x.nhwc)) throw unsupported(node, 'only 2-D inputs are exported');
      const w = ctx.constant(node.inputs[1]!);
      // ONNX B is [in, out] unless transB: TFLite wants [out, in]
      const transB = onnx === 'Gemm' && intAttr(node, 'transB', 0) === 1;
      let { values, shape } = transB ? { values: w.values, shape: w.dims } : permuteConst(w.values, w.dims, [1, 0]);
      if (x.flatFrom) ({ values, shape } = hwcColumns(values, shape, x.flatFrom));
      // int8: one weight scale (the largest of per-channel ones; Arm NN 20.08 and TFLite's converter take one), bias to match
      const weights = ctx.floatConstant(node.inputs[1]!, shape, values, { perTensor: true });
      const inputs = [xShape.length === 2 ? x.index : rows(ctx, node, x.index, xShape)];
      inputs.push(weights);
      if (node.inputs[2]) {
        const c = ctx.constant(node.inputs[2]);
        if (c.values.length !== shape[0]) throw unsupported(node, 'a bias other than one value per output');
        inputs.push(ctx.floatConstant(node.inputs[2], [shape[0]!], c.values, { perTensor: true }));
      }
      const O = FULLY_CONNECTED_OPTIONS;
      const fields = [int8(O.activation, ACTIVATION.NONE), int8(O.weightsFormat, 0)];
      const y = ctx.define(node.outputs[0]!, false);
      // a batched MatMul [.., T, in]: FULLY_CONNECTED over [.. · T, in] rows, reshaped back
      const rowsOut =
        xShape.length === 2 ? y : ctx.scratch(`${node.outputs[0]}_rows`, [inputs0Rows(xShape), shape[0]!], y);
      ctx.emit(
        BUILTIN.FULLY_CONNECTED,
        inputs,
        [rowsOut],
        { type: OPTIONS_TYPE.FullyConnectedOptions, fields },
        O.activation,
      );
      if (rowsOut !== y) emitReshape(ctx, rowsOut, y, ctx.shape(node.outputs[0]!));
    },
  };
}

const inputs0Rows = (shape: number[]) => shape.slice(0, -1).reduce((a, b) => a * b, 1);

/** RESHAPE tensor `x` into tensor `y` of ONNX shape `shape`. */
function emitReshape(ctx: ExportContext, x: number, y: number, shape: number[]): void {
  const shapeT = ctx.intConstant(`${ctx.tensors[y]!.name}_shape`, [shape.length], shape);
  ctx.emit(BUILTIN.RESHAPE, [x, shapeT], [y], {
    type: OPTIONS_TYPE.ReshapeOptions,
    fields: [{ slot: RESHAPE_OPTIONS.newShape, kind: 'int32Vector', value: shape }],
  });
}

/** The [.. · T, in] rows of a [.., T, in] input, for a FULLY_CONNECTED. */
function rows(ctx: ExportContext, node: Node, x: number, shape: number[]): number {
  const flat = [inputs0Rows(shape), shape[shape.length - 1]!];
  const y = ctx.scratch(`${node.outputs[0]}_in_rows`, flat, x);
  emitReshape(ctx, x, y, flat);
  return y;
}

function permuteConst(values: Float32Array, shape: number[], perm: number[]) {
  const out = new Float32Array(values.length);
  const [r, c] = shape as [number, number];
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = values[i * c + j]!;
  return { values: out, shape: perm.map((p) => shape[p]!) };
}

/** Reorder the columns of [out, C·H·W] weights (CHW order) to HWC order, for an NHWC flattening. */
function hwcColumns(values: Float32Array, shape: number[], [c, h, w]: [number, number, number]) {
  const [out, n] = shape as [number, number];
  const r = new Float32Array(values.length);
  for (let o = 0; o < out; o++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) r[o * n + (y * w + x) * c + ch] = values[o * n + (ch * h + y) * w + x]!;
  return { values: r, shape };
}

/** Flatten / Reshape (constant shape) → RESHAPE; an NHWC image flattens in HWC order (see export-context.ts). */
function reshapeTo(ctx: ExportContext, node: Node): void {
  const x = ctx.value(node.inputs[0]!);
  const inShape = ctx.shape(node.inputs[0]!);
  const out = ctx.shape(node.outputs[0]!);
  // one channel, or 1×1 pixels: NHWC and NCHW hold the values in the same order
  const spatial = x.nhwc && inShape[1] !== 1 && (inShape[2] !== 1 || inShape[3] !== 1);
  if (spatial && (out.length !== 2 || out[0] !== inShape[0]))
    throw unsupported(node, 'reshaping an image other than flattening it per sample');
  const flatFrom = spatial ? ([inShape[1]!, inShape[2]!, inShape[3]!] as [number, number, number]) : undefined;
  const y = ctx.define(node.outputs[0]!, false, flatFrom ? { flatFrom } : {});
  emitReshape(ctx, x.index, y, out);
}

/** SLICE of `x` (ONNX shape `dims`, not an image) from `begin` into ONNX value `out`. */
function emitSlice(ctx: ExportContext, x: number, begin: number[], out: string): void {
  const size = ctx.shape(out);
  const b = ctx.intConstant(`${out}_begin`, [begin.length], begin);
  const sz = ctx.intConstant(`${out}_size`, [size.length], size);
  ctx.emit(BUILTIN.SLICE, [x, b, sz], [ctx.define(out, false)]);
}

/** A computed value that is not an NHWC image (slicing and splitting keep ONNX's layout). */
function plainInput(ctx: ExportContext, node: Node) {
  const x = ctx.value(node.inputs[0]!);
  if (x.nhwc) throw unsupported(node, 'slicing or splitting a 4-D (image) value');
  return { index: x.index, dims: ctx.shape(node.inputs[0]!) };
}

/** Slice (steps 1; starts clamped, negative from the end) → SLICE with the output's size. */
const slice: TfliteExporter = {
  onnx: 'Slice',
  export(ctx, node) {
    const x = plainInput(ctx, node);
    const starts = ctx.ints(node.inputs[1]!);
    const axes = node.inputs[3] ? ctx.ints(node.inputs[3]) : starts.map((_, i) => i);
    if (node.inputs[4] && ctx.ints(node.inputs[4]).some((st) => st !== 1))
      throw unsupported(node, 'steps other than 1');
    const begin = x.dims.map(() => 0);
    axes.forEach((a, k) => {
      const axis = a < 0 ? a + x.dims.length : a;
      const dim = x.dims[axis]!;
      begin[axis] = Math.min(Math.max(starts[k]! < 0 ? starts[k]! + dim : starts[k]!, 0), dim);
    });
    emitSlice(ctx, x.index, begin, node.outputs[0]!);
  },
};

/** Split → one SLICE per output (the sizes are the outputs' inferred shapes). */
const split: TfliteExporter = {
  onnx: 'Split',
  export(ctx, node) {
    const x = plainInput(ctx, node);
    const a = intAttr(node, 'axis', 0);
    const axis = a < 0 ? a + x.dims.length : a;
    let offset = 0;
    for (const out of node.outputs) {
      const begin = x.dims.map((_, d) => (d === axis ? offset : 0));
      offset += ctx.shape(out)[axis]!;
      emitSlice(ctx, x.index, begin, out);
    }
  },
};

/**
 * Sub: by a constant, an ADD of −c; of two computed values, a − b as ADD(a, MUL(b, −1)) (SUB is
 * not among the operators verge reads back).
 */
const subByConstant = binary('Sub', BUILTIN.ADD, OPTIONS_TYPE.AddOptions, (v) => -v);
const sub: TfliteExporter = {
  onnx: 'Sub',
  export(ctx, node) {
    if (ctx.isConstant(node.inputs[1]!)) return subByConstant.export(ctx, node);
    const [a, b] = node.inputs.map((i) => ctx.value(i!));
    if (a!.nhwc !== b!.nhwc) throw unsupported(node, 'mixing image and non-image operands');
    const minusOne = ctx.floatConstant(`${node.outputs[0]}_minus_one`, [1], new Float32Array([-1]));
    const negated = ctx.scratch(`${node.outputs[0]}_negated`, ctx.tensors[b!.index]!.shape);
    const fields = () => [int8(ELEMENTWISE_OPTIONS.activation, ACTIVATION.NONE)];
    ctx.emit(BUILTIN.MUL, [b!.index, minusOne], [negated], { type: OPTIONS_TYPE.MulOptions, fields: fields() });
    const y = ctx.define(node.outputs[0]!, a!.nhwc);
    const options = { type: OPTIONS_TYPE.AddOptions, fields: fields() };
    ctx.emit(BUILTIN.ADD, [a!.index, negated], [y], options, ELEMENTWISE_OPTIONS.activation);
  },
};

/**
 * Add / Mul, and Sub / Div by a constant (as ADD of −c, MUL by 1/c): a constant operand beside an
 * NHWC image is broadcast to rank 4 and permuted.
 */
function binary(onnx: string, builtin: number, options: number, map?: (v: number) => number): TfliteExporter {
  return {
    onnx,
    export(ctx, node) {
      if (map && !ctx.isConstant(node.inputs[1]!)) throw unsupported(node, 'only by a constant second operand');
      const computed = node.inputs.filter((i) => !ctx.isConstant(i)).map((i) => ctx.value(i));
      const nhwc = computed.some((v) => v.nhwc);
      if (computed.some((v) => v.nhwc !== nhwc)) throw unsupported(node, 'mixing image and non-image operands');
      const inputs = node.inputs.map((i, k) => {
        if (!ctx.isConstant(i) || (!nhwc && !map)) return ctx.value(i).index;
        const dims = ctx.shape(i);
        const rank4 = [...Array<number>(Math.max(0, 4 - dims.length)).fill(1), ...dims];
        return ctx.permutedConstant(
          i,
          nhwc ? [...NHWC_FROM_NCHW] : undefined,
          nhwc ? rank4 : dims,
          k === 1 ? map : undefined,
        );
      });
      const y = ctx.define(node.outputs[0]!, nhwc);
      const fields = [int8(ELEMENTWISE_OPTIONS.activation, ACTIVATION.NONE)];
      ctx.emit(builtin, inputs, [y], { type: options, fields }, ELEMENTWISE_OPTIONS.activation);
    },
  };
}

function unary(onnx: string, builtin: number): TfliteExporter {
  return {
    onnx,
    export(ctx, node) {
      const x = ctx.value(node.inputs[0]!);
      const y = ctx.define(node.outputs[0]!, x.nhwc);
      ctx.emit(builtin, [x.index], [y]);
    },
  };
}

/** BatchNormalization (inference, constant statistics) → MUL by γ/√(σ²+ε), ADD of β − μ·γ/√(σ²+ε). */
const batchNormalization: TfliteExporter = {
  onnx: 'BatchNormalization',
  export(ctx, node) {
    if (intAttr(node, 'training_mode', 0) !== 0 || node.outputs.length > 1)
      throw unsupported(node, 'training mode (running statistics outputs)');
    const x = ctx.value(node.inputs[0]!);
    const [gamma, beta, mu, variance] = node.inputs.slice(1, 5).map((i) => ctx.constant(i).values);
    const eps = floatAttr(node, 'epsilon', 1e-5);
    const scale = gamma!.map((g, c) => g / Math.sqrt(variance![c]! + eps));
    const shift = beta!.map((b, c) => b - mu![c]! * scale[c]!);
    const rank = ctx.shape(node.inputs[0]!).length;
    const out = node.outputs[0]!;
    const y = ctx.define(out, x.nhwc);
    const scaled = ctx.scratch(`${out}_scaled`, ctx.tensors[y]!.shape);
    const none = (type: number) => ({ type, fields: [int8(ELEMENTWISE_OPTIONS.activation, ACTIVATION.NONE)] });
    const s = ctx.channelConstant(`${out}_scale`, scale, x.nhwc, rank);
    ctx.emit(BUILTIN.MUL, [x.index, s], [scaled], none(OPTIONS_TYPE.MulOptions));
    const b = ctx.channelConstant(`${out}_shift`, shift, x.nhwc, rank);
    ctx.emit(BUILTIN.ADD, [scaled, b], [y], none(OPTIONS_TYPE.AddOptions), ELEMENTWISE_OPTIONS.activation);
  },
};

/** Clip to [0, 6] → RELU6, to [0, ∞) → RELU (bounds as attributes or constant inputs). */
const clip: TfliteExporter = {
  onnx: 'Clip',
  int8: true,
  export(ctx, node) {
    const bound = (i: number, name: string, fallback: number) =>
      node.inputs[i] ? ctx.constant(node.inputs[i]).values[0]! : floatAttr(node, name, fallback);
    const lo = bound(1, 'min', -Infinity);
    const hi = bound(2, 'max', Infinity);
    if (lo !== 0 || (hi !== 6 && hi !== Infinity))
      throw unsupported(node, `clip to [${lo}, ${hi}] (TFLite: [0, 6] or [0, ∞))`);
    unary('Clip', hi === 6 ? BUILTIN.RELU6 : BUILTIN.RELU).export(ctx, node);
  },
};

const relu: TfliteExporter = {
  onnx: 'Relu',
  int8: true,
  export(ctx, node) {
    if (!ctx.fuseRelu(node.inputs[0]!, node.outputs[0]!)) unary('Relu', BUILTIN.RELU).export(ctx, node);
  },
};

const softmax: TfliteExporter = {
  onnx: 'Softmax',
  export(ctx, node) {
    const x = ctx.value(node.inputs[0]!);
    const rank = ctx.shape(node.inputs[0]!).length;
    const a = intAttr(node, 'axis', -1);
    const axis = a < 0 ? a + rank : a;
    // TFLite's softmax runs over the last axis: NCHW's channels are NHWC's last
    if (axis !== (x.nhwc ? 1 : rank - 1))
      throw unsupported(node, `softmax over axis ${a}, not the last (channel) axis`);
    const y = ctx.define(node.outputs[0]!, x.nhwc);
    const fields = [{ slot: SOFTMAX_OPTIONS.beta, kind: 'float32' as const, value: 1 }];
    ctx.emit(BUILTIN.SOFTMAX, [x.index], [y], { type: OPTIONS_TYPE.SoftmaxOptions, fields });
  },
};

const concat: TfliteExporter = {
  onnx: 'Concat',
  int8: true,
  export(ctx, node) {
    const xs = node.inputs.map((i) => ctx.value(i));
    const nhwc = xs[0]!.nhwc;
    if (xs.some((v) => v.nhwc !== nhwc)) throw unsupported(node, 'mixing image and non-image operands');
    const rank = ctx.shape(node.inputs[0]!).length;
    const a = intAttr(node, 'axis', 0);
    const axis = nhwc ? NHWC_FROM_NCHW.indexOf(a < 0 ? a + rank : a) : a < 0 ? a + rank : a;
    const y = ctx.define(node.outputs[0]!, nhwc);
    const O = CONCATENATION_OPTIONS;
    const fields = [int32(O.axis, axis), int8(O.activation, ACTIVATION.NONE)];
    ctx.emit(
      BUILTIN.CONCATENATION,
      xs.map((v) => v.index),
      [y],
      { type: OPTIONS_TYPE.ConcatenationOptions, fields },
      O.activation,
    );
  },
};

const pad: TfliteExporter = {
  onnx: 'Pad',
  int8: true,
  export(ctx, node) {
    const mode = attr(node, 'mode');
    if (mode?.type === 'string' && mode.value !== 'constant') throw unsupported(node, `mode '${mode.value}'`);
    const value = node.inputs[2] ? ctx.constant(node.inputs[2]).values[0] : floatAttr(node, 'value', 0);
    if (value !== 0) throw unsupported(node, 'a pad value other than 0');
    const x = ctx.value(node.inputs[0]!);
    const p = intsAttr(node, 'pads') ?? ctx.ints(node.inputs[1]!);
    const rank = p.length / 2;
    if (p.some((v) => v < 0)) throw unsupported(node, 'negative pads (cropping)');
    const order = x.nhwc ? [...NHWC_FROM_NCHW] : [...Array(rank).keys()];
    const paddings = ctx.intConstant(
      `${node.outputs[0]}_paddings`,
      [rank, 2],
      order.flatMap((d) => [p[d]!, p[d + rank]!]),
    );
    const y = ctx.define(node.outputs[0]!, x.nhwc);
    ctx.emit(BUILTIN.PAD, [x.index, paddings], [y], { type: OPTIONS_TYPE.PadOptions, fields: [] });
  },
};

/**
 * Transpose → TRANSPOSE (or nothing, when the permutation is the identity in TFLite's layout): the
 * permutation is composed with the layouts of input and output — an NHWC input is permuted from
 * its stored order, and a 4-D output is stored NHWC like every 4-D value (so convolutions can follow).
 */
const transpose: TfliteExporter = {
  onnx: 'Transpose',
  int8: true,
  export(ctx, node) {
    const x = ctx.value(node.inputs[0]!);
    const rank = ctx.shape(node.inputs[0]!).length;
    const perm = intsAttr(node, 'perm') ?? [...Array(rank).keys()].reverse();
    const layout = (nhwc: boolean) => (nhwc ? [...NHWC_FROM_NCHW] : [...Array(rank).keys()]);
    const inLayout = layout(x.nhwc);
    const nhwc = rank === 4;
    // stored output dim i = ONNX output dim layout(nhwc)[i] = ONNX input dim perm[…] = stored input dim q[i]
    const q = layout(nhwc).map((d) => inLayout.indexOf(perm[d]!));
    if (q.every((d, i) => d === i)) {
      ctx.alias(node.outputs[0]!, node.inputs[0]!, nhwc);
      return;
    }
    const permT = ctx.intConstant(`${node.outputs[0]}_perm`, [rank], q);
    const y = ctx.define(node.outputs[0]!, nhwc);
    ctx.emit(BUILTIN.TRANSPOSE, [x.index, permT], [y], { type: OPTIONS_TYPE.TransposeOptions, fields: [] });
  },
};

/** Gather (an embedding lookup: constant rows, int ids) → GATHER; constant indices become int32. */
const gather: TfliteExporter = {
  onnx: 'Gather',
  export(ctx, node) {
    const data = ctx.value(node.inputs[0]!);
    if (data.nhwc) throw unsupported(node, 'gathering from an image');
    const rank = ctx.shape(node.inputs[0]!).length;
    const a = intAttr(node, 'axis', 0);
    const idx = node.inputs[1]!;
    const indices = ctx.isConstant(idx)
      ? ctx.intConstant(`${idx}_int32`, ctx.shape(idx), ctx.ints(idx))
      : ctx.value(idx).index;
    const y = ctx.define(node.outputs[0]!, false);
    ctx.emit(BUILTIN.GATHER, [data.index, indices], [y], {
      type: OPTIONS_TYPE.GatherOptions,
      fields: [int32(0, a < 0 ? a + rank : a)],
    });
  },
};

const identity = (onnx: string): TfliteExporter => ({
  onnx,
  int8: true,
  export: (ctx, node) => ctx.alias(node.outputs[0]!, node.inputs[0]!),
});

export const TFLITE_EXPORTERS: readonly TfliteExporter[] = deepFreeze([
  conv,
  pool('MaxPool', BUILTIN.MAX_POOL_2D),
  pool('AveragePool', BUILTIN.AVERAGE_POOL_2D),
  globalAveragePool,
  reduceMean,
  fullyConnected('Gemm'),
  fullyConnected('MatMul'),
  { onnx: 'Flatten', int8: true, export: reshapeTo },
  { onnx: 'Reshape', int8: true, export: reshapeTo },
  { ...binary('Add', BUILTIN.ADD, OPTIONS_TYPE.AddOptions), int8: true },
  { ...binary('Mul', BUILTIN.MUL, OPTIONS_TYPE.MulOptions), int8: true },
  sub,
  slice,
  split,
  binary('Div', BUILTIN.MUL, OPTIONS_TYPE.MulOptions, (v) => 1 / v),
  batchNormalization,
  clip,
  relu,
  unary('Sigmoid', BUILTIN.LOGISTIC),
  unary('Tanh', BUILTIN.TANH),
  softmax,
  concat,
  pad,
  transpose,
  gather,
  ...RECURRENT_EXPORTERS,
  identity('Identity'),
  identity('Dropout'),
]);
