/**
 * The state of one ONNX → TFLite export, shared by the per-operator exporters in ./export-ops.ts.
 *
 * Layout: ONNX images are NCHW, TFLite's are NHWC. verge exports the 4-D graph inputs as NHWC
 * (the TFLite convention: a camera frame goes in as it is) and keeps every 4-D value NHWC from
 * there on — convolution weights are permuted (OIHW → OHWI, depthwise → [1, H, W, C·m]), axes of
 * concatenations, pads and means are mapped, per-channel constants of Add/Mul are permuted — so
 * the exported model needs no TRANSPOSE operators. A Flatten of an NHWC image flattens in HWC
 * order; the FULLY_CONNECTED it feeds gets its weight columns permuted to match.
 */
import { VergeError } from '../errors.ts';
import { numel, type Model, type Node, type Tensor, type TensorType } from '../onnx/browser.ts';
import { permute } from './context.ts';
import type { QdqModel, QuantParamsOut } from './export-quant.ts';
import { ACTIVATION, BUILTIN, TENSOR_TYPE } from './schema.ts';
import type { TfliteOperatorOut, TfliteTensorOut } from './write.ts';

/** NHWC dim i = NCHW dim NHWC_FROM_NCHW[i]. */
export const NHWC_FROM_NCHW = Object.freeze([0, 2, 3, 1]);

/** Where an ONNX value lives in the TFLite graph. */
export interface ExportValue {
  index: number;
  /** A 4-D value stored NHWC (its ONNX shape is NCHW). */
  nhwc: boolean;
  /** The value is the HWC-order flattening of an NHWC image of [C, H, W] (ONNX flattens CHW). */
  flatFrom?: [number, number, number];
}

interface Producer {
  op: TfliteOperatorOut;
  /** The fused activation field of the operator's options. */
  activationSlot: number;
}

/** How an operator runs: on float32 tensors, or on int8 ones (a quantized model's quantized operator). */
export type ExportMode = 'float' | 'int8';

type Quantization = NonNullable<TfliteTensorOut['quantization']>;
/** How a constant is quantized for an int8 operator (see ExportContext.floatConstant). */
export interface ConstantOptions {
  axis?: number;
  exact?: boolean;
  perTensor?: boolean;
}
const INT_RANGE = { int8: [-128, 127], int32: [-(2 ** 31), 2 ** 31 - 1] } as const;

export class ExportContext {
  readonly tensors: TfliteTensorOut[] = [];
  readonly operators: TfliteOperatorOut[] = [];
  private readonly values = new Map<string, ExportValue>();
  private readonly producers = new Map<number, Producer>();
  private readonly initializers: Map<string, Tensor>;
  private readonly uses = new Map<string, number>();
  private readonly graphOutputs: Set<string>;
  private names = new Set<string>();
  /** The mode of the operator being exported (see begin). */
  private mode: ExportMode = 'float';
  /** Outputs of a float operator that the quantized model stores int8: QUANTIZEd at `end`. */
  private pending: { name: string; from: number; nhwc: boolean; extra: Partial<ExportValue> }[] = [];
  /** The float32 constant tensors made, by name (see floatConstant). */
  private readonly floatConstants = new Map<string, { shape: number[]; values: Float32Array; index: number }[]>();
  /** DEQUANTIZE results by int8 tensor index (one per tensor). */
  private readonly dequantized = new Map<number, number>();

  constructor(
    readonly model: Model,
    readonly types: Map<string, TensorType>,
    /** A quantized model's constants and activations (undefined for float models). */
    private readonly quant?: Omit<QdqModel, 'model'>,
  ) {
    this.initializers = new Map(model.graph.initializers.map((t) => [t.name, t]));
    for (const n of model.graph.nodes) for (const i of n.inputs) if (i) this.uses.set(i, (this.uses.get(i) ?? 0) + 1);
    this.graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
  }

  /** The static ONNX shape of a value (the batch dim already fixed). */
  shape(name: string): number[] {
    const init = this.initializers.get(name);
    if (init) return init.dims;
    const s = this.types.get(name)?.shape;
    if (!s || !s.every((d): d is number => typeof d === 'number'))
      throw new VergeError('E_UNSUPPORTED', `value '${name}' has no static shape [${s ?? '?'}]; TFLite needs one`);
    return s;
  }

  /** The value is read by a node or is a graph output. */
  used(name: string): boolean {
    return (this.uses.get(name) ?? 0) > 0 || this.graphOutputs.has(name);
  }

  isConstant(name: string): boolean {
    return this.initializers.has(name);
  }

  /** A float32 initializer's values (ONNX layout). */
  constant(name: string): { dims: number[]; values: Float32Array } {
    const t = this.initializers.get(name);
    if (!t) throw new VergeError('E_UNSUPPORTED', `'${name}' must be a constant (initializer) for TFLite export`);
    if (t.storage === 'external' || t.data.length !== numel(t.dims))
      throw new VergeError('E_UNSUPPORTED', `initializer '${name}' has external or missing data`);
    return { dims: t.dims, values: Float32Array.from(t.data as ArrayLike<number>, Number) };
  }

  /** An integer initializer's values (shapes, pads, axes). */
  ints(name: string): number[] {
    const t = this.initializers.get(name);
    if (!t) throw new VergeError('E_UNSUPPORTED', `'${name}' must be a constant (initializer) for TFLite export`);
    return Array.from(t.data as ArrayLike<number | bigint>, Number);
  }

  private uniqueName(name: string): string {
    let n = name;
    for (let k = 1; this.names.has(n); k++) n = `${name}_${k}`;
    this.names.add(n);
    return n;
  }

  private addTensor(t: TfliteTensorOut): number {
    this.tensors.push({ ...t, name: this.uniqueName(t.name) });
    return this.tensors.length - 1;
  }

  /**
   * A constant tensor of float values in TFLite layout: float32, or — for an int8 operator — int8
   * (int32 for a bias) with the quantized model's own parameters for that constant (`axis` = its
   * per-channel dim in TFLite's layout; `exact` false when the values were changed, e.g. negated,
   * so they are quantized afresh, symmetric per tensor; `perTensor` collapses per-channel scales to
   * their largest, for operators TFLite readers take one scale for).
   */
  floatConstant(name: string, shape: number[], values: Float32Array, opts: ConstantOptions = {}): number {
    if (this.mode === 'int8') return this.quantizedConstant(name, shape, values, opts);
    // one tensor per constant: a weight read at every unrolled step (a recurrent matrix) is stored once
    const made = this.floatConstants
      .get(name)
      ?.find((c) => c.shape.join() === shape.join() && c.values.every((v, i) => Object.is(v, values[i])));
    if (made) return made.index;
    const data = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    const index = this.addTensor({ name, shape, type: TENSOR_TYPE.FLOAT32, data });
    this.floatConstants.set(name, [...(this.floatConstants.get(name) ?? []), { shape, values, index }]);
    return index;
  }

  private quantizedConstant(name: string, shape: number[], values: Float32Array, opts: ConstantOptions) {
    const known = opts.exact === false ? undefined : this.quant?.constants.get(name);
    let q: Quantization;
    let dtype: 'int8' | 'int32' = 'int8';
    if (known && known.scale.length > 1 && opts.perTensor) {
      q = { scale: [Math.max(...known.scale)], zeroPoint: [known.zeroPoint[0]!], quantizedDimension: 0 };
      dtype = known.dtype;
    } else if (known) {
      if (known.scale.length > 1 && opts.axis === undefined)
        throw new VergeError('E_UNSUPPORTED', `'${name}' is quantized per channel where TFLite takes one scale`);
      q = {
        scale: known.scale,
        zeroPoint: known.zeroPoint,
        quantizedDimension: known.scale.length > 1 ? opts.axis! : 0,
      };
      dtype = known.dtype;
    } else {
      const max = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      q = { scale: [max > 0 ? max / 127 : 1], zeroPoint: [0], quantizedDimension: 0 };
    }
    const per = q.scale.length > 1 ? shape.slice(q.quantizedDimension + 1).reduce((a, b) => a * b, 1) : 1;
    const [lo, hi] = INT_RANGE[dtype];
    const ints = dtype === 'int8' ? new Int8Array(values.length) : new Int32Array(values.length);
    values.forEach((v, i) => {
      const c = q.scale.length > 1 ? Math.floor(i / per) % q.scale.length : 0;
      // the values are the model's own dequantized integers: v / scale is (all but) an integer
      ints[i] = Math.min(hi, Math.max(lo, Math.round(v / q.scale[c]!) + q.zeroPoint[c]!));
    });
    const type = dtype === 'int8' ? TENSOR_TYPE.INT8 : TENSOR_TYPE.INT32;
    return this.addTensor({ name, shape, type, data: new Uint8Array(ints.buffer), quantization: q });
  }

  /** An int32 constant tensor (shapes, paddings, axes). */
  intConstant(name: string, shape: number[], values: number[]): number {
    return this.addTensor({
      name,
      shape,
      type: TENSOR_TYPE.INT32,
      data: new Uint8Array(Int32Array.from(values).buffer),
    });
  }

  /** A float32 constant of an initializer (its values mapped by `map`), permuted by `perm` (NCHW → NHWC and the like). */
  permutedConstant(name: string, perm?: number[], shape?: number[], map?: (v: number) => number): number {
    const c = this.constant(name);
    const dims = shape ?? c.dims;
    const values = map ? c.values.map(map) : c.values;
    const p = perm ? permute(values, dims, perm) : { values, shape: dims };
    // the per-channel dim of a quantized constant, moved by the broadcast (leading 1s) and the permutation
    const qAxis = (this.quant?.constants.get(name)?.axis ?? 0) + dims.length - c.dims.length;
    return this.floatConstant(name, p.shape, p.values, { axis: perm ? perm.indexOf(qAxis) : qAxis, exact: !map });
  }

  /**
   * A per-channel constant for an operand whose ONNX channel dim is 1: shape [1, 1, 1, C] beside an
   * NHWC image, [C, 1, …] (ONNX broadcasting) beside a value of rank `rank` otherwise.
   */
  channelConstant(name: string, values: Float32Array, nhwc: boolean, rank: number): number {
    const shape = nhwc ? [1, 1, 1, values.length] : [values.length, ...Array<number>(Math.max(0, rank - 2)).fill(1)];
    return this.floatConstant(name, shape, values);
  }

  /** The operator being exported runs on int8 tensors. */
  get int8(): boolean {
    return this.mode === 'int8';
  }

  /** The int8 parameters of a quantized model's activation (TFLite form). */
  private activationQuant(name: string): Quantization | undefined {
    const a: QuantParamsOut | undefined = this.quant?.activations.get(name);
    return a && { scale: a.scale, zeroPoint: a.zeroPoint, quantizedDimension: 0 };
  }

  /**
   * A computed tensor for ONNX value `name`, stored NHWC when `nhwc`: float32, or int8 with the
   * value's parameters for an int8 operator. A float operator's output that the quantized model
   * stores quantized is written float and QUANTIZEd when the operator is done (`end`).
   */
  define(name: string, nhwc: boolean, extra: Partial<ExportValue> = {}): number {
    const onnx = this.shape(name);
    const shape = nhwc ? NHWC_FROM_NCHW.map((d) => onnx[d]!) : onnx;
    const quantization = this.activationQuant(name);
    if (quantization && this.mode === 'int8') {
      const index = this.addTensor({ name, shape, type: TENSOR_TYPE.INT8, quantization });
      this.values.set(name, { index, nhwc, ...extra });
      return index;
    }
    const index = this.addTensor({ name: quantization ? `${name}_float` : name, shape, type: TENSOR_TYPE.FLOAT32 });
    if (quantization) this.pending.push({ name, from: index, nhwc, extra });
    this.values.set(name, { index, nhwc, ...extra });
    return index;
  }

  /** A computed tensor no ONNX value maps to (a PAD inserted before a convolution): float32, or int8 like tensor `like`. */
  scratch(name: string, shape: number[], like?: number): number {
    if (this.mode === 'int8') {
      const l = like === undefined ? undefined : this.tensors[like];
      if (!l) throw new VergeError('E_UNSUPPORTED', `'${name}': no int8 form of this step`);
      return this.addTensor({ name, shape, type: l.type, ...(l.quantization ? { quantization: l.quantization } : {}) });
    }
    return this.addTensor({ name, shape, type: TENSOR_TYPE.FLOAT32 });
  }

  /**
   * Start exporting `node`: in a quantized model it runs int8 when its output is stored quantized
   * and every computed input is int8 (verge's quantized operators), float otherwise (int8 inputs
   * are DEQUANTIZEd for it, a quantized output QUANTIZEd after it).
   */
  begin(node: Node, int8Capable: boolean | 'same-scale'): void {
    this.mode = 'float';
    const out = this.activationQuant(node.outputs[0] ?? '');
    if (!this.quant || !int8Capable || !out) return;
    if (int8Capable === 'same-scale') {
      const q = this.tensors[this.values.get(node.inputs[0]!)?.index ?? -1]?.quantization;
      if (!q || q.scale[0] !== out.scale[0] || q.zeroPoint[0] !== out.zeroPoint[0]) return;
    }
    const computed = node.inputs.filter((i) => i && !this.isConstant(i));
    const int8 = (i: string) => {
      const v = this.values.get(i);
      return v !== undefined && this.tensors[v.index]!.type === TENSOR_TYPE.INT8;
    };
    if (computed.length > 0 && computed.every(int8)) this.mode = 'int8';
  }

  /** Finish the node begun: QUANTIZE the float results the model stores quantized. */
  end(): void {
    for (const p of this.pending) {
      const quantization = this.activationQuant(p.name)!;
      const shape = this.tensors[p.from]!.shape;
      const index = this.addTensor({ name: p.name, shape, type: TENSOR_TYPE.INT8, quantization });
      this.operators.push({ builtin: BUILTIN.QUANTIZE, inputs: [p.from], outputs: [index] });
      this.values.set(p.name, { index, nhwc: p.nhwc, ...p.extra });
    }
    this.pending = [];
    this.mode = 'float';
  }

  /**
   * A graph input: a float32 tensor, QUANTIZEd when the quantized model stores it int8; integer
   * inputs (token ids, read by Gather) become int32, the index type every TFLite reader takes.
   */
  defineInput(name: string, nhwc: boolean, integer = false): number {
    if (integer) {
      const index = this.addTensor({ name, shape: this.shape(name), type: TENSOR_TYPE.INT32 });
      this.values.set(name, { index, nhwc: false });
      return index;
    }
    const index = this.define(name, nhwc);
    if (this.pending.length) {
      this.tensors[index]!.name = this.uniqueName(name);
      this.end();
    }
    return index;
  }

  /** `to` is the same TFLite tensor as `from` (Identity, Dropout, a fused activation, a Transpose TFLite's layout makes a no-op). */
  alias(to: string, from: string, nhwc?: boolean): void {
    const v = this.value(from, { flattened: true });
    this.values.set(to, nhwc === undefined ? v : { ...v, nhwc });
  }

  /**
   * The TFLite tensor of ONNX value `name`. Constants are made float32 tensors as they are. A
   * flattened NHWC image is only accepted by a consumer that handles it (`flattened`).
   */
  value(name: string, opts: { flattened?: boolean } = {}): ExportValue {
    const v = this.values.get(name);
    if (v) {
      if (v.flatFrom && !opts.flattened)
        throw new VergeError(
          'E_UNSUPPORTED',
          `'${name}' is a flattened image; verge exports it to TFLite only as the input of Gemm/MatMul`,
        );
      return this.mode === 'float' ? this.asFloat(v) : v;
    }
    if (!this.isConstant(name)) throw new VergeError('E_MODEL_INVALID', `'${name}' is used before it is computed`);
    const made = { index: this.permutedConstant(name), nhwc: false };
    // a quantized model's constant may be read by float and int8 operators: made for each use
    if (!this.quant) this.values.set(name, made);
    return made;
  }

  /** The value as a float32 tensor: an int8 one is DEQUANTIZEd (once). */
  private asFloat(v: ExportValue): ExportValue {
    const t = this.tensors[v.index]!;
    if (t.type !== TENSOR_TYPE.INT8 || t.data) return v;
    let index = this.dequantized.get(v.index);
    if (index === undefined) {
      index = this.addTensor({ name: `${t.name}_dequantized`, shape: t.shape, type: TENSOR_TYPE.FLOAT32 });
      this.operators.push({ builtin: BUILTIN.DEQUANTIZE, inputs: [v.index], outputs: [index] });
      this.dequantized.set(v.index, index);
    }
    return { ...v, index };
  }

  /** Append an operator; `activationSlot` marks the options field a following Relu can fuse into. */
  emit(
    builtin: number,
    inputs: number[],
    outputs: number[],
    options?: TfliteOperatorOut['options'],
    activationSlot?: number,
  ): void {
    const op: TfliteOperatorOut = { builtin, inputs, outputs, ...(options ? { options } : {}) };
    this.operators.push(op);
    if (activationSlot !== undefined) this.producers.set(outputs[0]!, { op, activationSlot });
  }

  /**
   * Fuse a Relu into the operator producing `x` when it is that value's only use and the operator
   * has a fused-activation field still NONE; then `y` is that operator's output. False otherwise.
   */
  fuseRelu(x: string, y: string): boolean {
    const v = this.values.get(x);
    if (!v || this.uses.get(x) !== 1 || this.graphOutputs.has(x)) return false;
    // a quantized value (x or y) has its own tensor and parameters: no fusing across them
    if (this.activationQuant(x) || this.activationQuant(y)) return false;
    const p = this.producers.get(v.index);
    const field = p?.op.options?.fields.find((f) => f.slot === p.activationSlot) as { value: number } | undefined;
    if (!p || !field || field.value !== ACTIVATION.NONE) return false;
    field.value = ACTIVATION.RELU;
    this.producers.delete(v.index);
    this.tensors[v.index]!.name = this.uniqueName(y);
    this.values.set(y, v);
    return true;
  }
}
