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
import { numel, type Model, type Tensor, type TensorType } from '../onnx/browser.ts';
import { permute } from './context.ts';
import { ACTIVATION, TENSOR_TYPE } from './schema.ts';
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

export class ExportContext {
  readonly tensors: TfliteTensorOut[] = [];
  readonly operators: TfliteOperatorOut[] = [];
  private readonly values = new Map<string, ExportValue>();
  private readonly producers = new Map<number, Producer>();
  private readonly initializers: Map<string, Tensor>;
  private readonly uses = new Map<string, number>();
  private readonly graphOutputs: Set<string>;
  private names = new Set<string>();

  constructor(
    readonly model: Model,
    readonly types: Map<string, TensorType>,
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

  /** A float32 constant tensor in TFLite layout. */
  floatConstant(name: string, shape: number[], values: Float32Array): number {
    const data = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    return this.addTensor({ name, shape, type: TENSOR_TYPE.FLOAT32, data });
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
    return this.floatConstant(name, p.shape, p.values);
  }

  /**
   * A per-channel constant for an operand whose ONNX channel dim is 1: shape [1, 1, 1, C] beside an
   * NHWC image, [C, 1, …] (ONNX broadcasting) beside a value of rank `rank` otherwise.
   */
  channelConstant(name: string, values: Float32Array, nhwc: boolean, rank: number): number {
    const shape = nhwc ? [1, 1, 1, values.length] : [values.length, ...Array<number>(Math.max(0, rank - 2)).fill(1)];
    return this.floatConstant(name, shape, values);
  }

  /** A computed float32 tensor for ONNX value `name`, stored NHWC when `nhwc`. */
  define(name: string, nhwc: boolean, extra: Partial<ExportValue> = {}): number {
    const onnx = this.shape(name);
    const shape = nhwc ? NHWC_FROM_NCHW.map((d) => onnx[d]!) : onnx;
    const index = this.addTensor({ name, shape, type: TENSOR_TYPE.FLOAT32 });
    this.values.set(name, { index, nhwc, ...extra });
    return index;
  }

  /** A computed float32 tensor no ONNX value maps to (a PAD inserted before a convolution). */
  scratch(name: string, shape: number[]): number {
    return this.addTensor({ name, shape, type: TENSOR_TYPE.FLOAT32 });
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
      return v;
    }
    if (!this.isConstant(name)) throw new VergeError('E_MODEL_INVALID', `'${name}' is used before it is computed`);
    const made = { index: this.permutedConstant(name), nhwc: false };
    this.values.set(name, made);
    return made;
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
