/**
 * The state of one TFLite → ONNX conversion, shared by the per-operator converters in ./ops/.
 *
 * Layout: every tensor keeps TFLite's layout (NHWC for images), so element-wise ops, reshapes,
 * concatenations, pads and means convert with their own axes; convolutions and pools, which ONNX
 * defines on NCHW, are wrapped in a pair of Transposes (onnxruntime's transpose optimizer cancels
 * the back-to-back pairs between layers).
 *
 * Quantized models (int8/uint8 tensors with scale and zero point) become QDQ graphs: constant
 * weights are stored quantized and dequantized by DequantizeLinear (per channel where TFLite is),
 * every quantized activation an operator produces passes QuantizeLinear → DequantizeLinear with
 * TFLite's own scale and zero point (so values are rounded where TFLite rounds them), and quantized
 * graph inputs/outputs keep their integer types.
 */
import { type GraphBuilder, float16BitsToNumber, type DType } from '../onnx/browser.ts';
import { VergeError } from '../errors.ts';
import type { TfliteModel, TfliteSubgraph, TfliteTensor } from './read.ts';
import { ACTIVATION, TENSOR_TYPE } from './schema.ts';

/** TensorType code → ONNX element type. */
const DTYPE_OF: Record<number, DType> = {
  [TENSOR_TYPE.FLOAT32]: 'float32',
  [TENSOR_TYPE.FLOAT16]: 'float16',
  [TENSOR_TYPE.INT32]: 'int32',
  [TENSOR_TYPE.UINT8]: 'uint8',
  [TENSOR_TYPE.INT64]: 'int64',
  [TENSOR_TYPE.BOOL]: 'bool',
  [TENSOR_TYPE.INT16]: 'int16',
  [TENSOR_TYPE.INT8]: 'int8',
};

export function onnxDtype(t: TfliteTensor): DType {
  const d = DTYPE_OF[t.type];
  if (!d)
    throw new VergeError(
      'E_UNSUPPORTED',
      `tensor '${t.name}' has TFLite tensor type ${t.type}, which verge does not convert`,
    );
  return d;
}

/** Constant data of a tensor as numbers (int64 as numbers), in TFLite's layout. */
export interface ConstData {
  dtype: DType;
  shape: number[];
  values: Float32Array | Int32Array | Int8Array | Uint8Array | Int16Array | Float64Array;
}

export class ImportContext {
  /** ONNX value (float, or the graph's own type for non-quantized integer tensors) per TFLite tensor index. */
  private readonly values = new Map<number, string>();

  constructor(
    readonly b: GraphBuilder,
    readonly model: TfliteModel,
    readonly graph: TfliteSubgraph,
  ) {}

  tensor(index: number): TfliteTensor {
    const t = this.graph.tensors[index];
    if (!t)
      throw new VergeError('E_MODEL_INVALID', `operator refers to tensor ${index} of ${this.graph.tensors.length}`);
    return t;
  }

  isConstant(index: number): boolean {
    const t = this.tensor(index);
    return t.buffer > 0 && (this.model.buffers[t.buffer]?.length ?? 0) > 0;
  }

  /** The raw constant data of a tensor (copied into an aligned typed array). */
  constant(index: number): ConstData {
    const t = this.tensor(index);
    if (!this.isConstant(index))
      throw new VergeError('E_UNSUPPORTED', `tensor '${t.name}' must be a constant here (it is computed at run time)`);
    const bytes = this.model.buffers[t.buffer]!;
    const dtype = onnxDtype(t);
    // a copy: aligned for the typed view, and independent of the file buffer (a Node Buffer slice is a view)
    const copy = new Uint8Array(bytes).buffer;
    const values =
      dtype === 'float32'
        ? new Float32Array(copy)
        : dtype === 'int32'
          ? new Int32Array(copy)
          : dtype === 'int8'
            ? new Int8Array(copy)
            : dtype === 'uint8'
              ? new Uint8Array(copy)
              : dtype === 'int16'
                ? new Int16Array(copy)
                : dtype === 'int64'
                  ? Float64Array.from(new BigInt64Array(copy), Number)
                  : dtype === 'float16'
                    ? Float32Array.from(new Uint16Array(copy), float16BitsToNumber)
                    : undefined;
    if (!values) throw new VergeError('E_UNSUPPORTED', `constant '${t.name}' of type ${dtype}`);
    const count = t.shape.reduce((a, c) => a * c, 1);
    if (values.length !== count)
      throw new VergeError(
        'E_MODEL_INVALID',
        `constant '${t.name}' holds ${values.length} values, shape [${t.shape}] needs ${count}`,
      );
    return { dtype: dtype === 'float16' ? 'float32' : dtype === 'int64' ? 'int64' : dtype, shape: t.shape, values };
  }

  /** A constant's values as plain integers (shapes, axes, paddings). */
  ints(index: number): number[] {
    return Array.from(this.constant(index).values, Number);
  }

  /**
   * The ONNX value of TFLite tensor `index`: a graph input or a computed value as defined, or a
   * constant made an initializer (quantized constants dequantized). `layout` permutes a constant's
   * dims first (e.g. OHWI → OIHW), moving its quantization axis along.
   */
  value(index: number, layout?: number[]): string {
    const known = this.values.get(index);
    if (known !== undefined && !layout) return known;
    const t = this.tensor(index);
    if (!this.isConstant(index)) {
      if (known === undefined)
        throw new VergeError('E_MODEL_INVALID', `tensor '${t.name}' is used before it is computed`);
      return known;
    }
    const c = this.constant(index);
    const { values, shape } = layout ? permute(c.values, c.shape, layout) : { values: c.values, shape: c.shape };
    const q = t.quantization;
    let name: string;
    if (q && (c.dtype === 'int8' || c.dtype === 'uint8' || c.dtype === 'int32' || c.dtype === 'int16')) {
      const raw = this.b.initializer(`${t.name}_quantized`, c.dtype, shape, values as Int8Array);
      // a per-channel 1-D constant (a bias) has one axis, whatever quantized_dimension its file names
      // (person_detect's biases carry their weights' 3): DequantizeLinear's axis must lie within the rank
      const axis =
        shape.length === 1
          ? 0
          : layout && q.scale.length > 1
            ? layout.indexOf(q.quantizedDimension)
            : q.quantizedDimension;
      name = this.dequantize(raw, c.dtype, q.scale, q.zeroPoint, axis, t.name);
    } else {
      name = this.b.initializer(t.name, c.dtype, shape, values as Float32Array);
    }
    if (!layout) this.values.set(index, name);
    return name;
  }

  /** DequantizeLinear of an integer value with TFLite scale(s) and zero point(s). */
  dequantize(x: string, dtype: DType, scale: number[], zeroPoint: number[], axis: number, label: string): string {
    const perChannel = scale.length > 1;
    const dims = perChannel ? [scale.length] : [];
    const s = this.b.initializer(`${label}_scale`, 'float32', dims, scale);
    // int32 (bias) dequantization takes no zero point in ONNX: TFLite's is 0 for them
    const inputs = [x, s];
    if (dtype !== 'int32') inputs.push(this.b.initializer(`${label}_zero_point`, dtype, dims, zeroPoint));
    return this.b.op('DequantizeLinear', inputs, perChannel ? { axis } : {});
  }

  /**
   * Record `onnx` as the value of TFLite tensor `index`. A quantized tensor is rounded the way TFLite
   * stores it: QuantizeLinear → DequantizeLinear with its scale and zero point.
   */
  define(index: number, onnx: string): void {
    const t = this.tensor(index);
    const q = t.quantization;
    const dtype = DTYPE_OF[t.type];
    if (q && (dtype === 'int8' || dtype === 'uint8') && q.scale.length === 1) {
      const s = this.b.initializer(`${t.name}_scale`, 'float32', [], q.scale);
      const zp = this.b.initializer(`${t.name}_zero_point`, dtype, [], q.zeroPoint);
      const quantized = this.b.op('QuantizeLinear', [onnx, s, zp]);
      this.values.set(index, this.b.op('DequantizeLinear', [quantized, s, zp]));
      return;
    }
    this.values.set(index, onnx);
  }

  /** The fused activation of an operator applied to `x`. */
  activation(x: string, code: number, what: string): string {
    switch (code) {
      case ACTIVATION.NONE:
        return x;
      case ACTIVATION.RELU:
        return this.b.op('Relu', [x]);
      case ACTIVATION.RELU6:
        return this.clip(x, 0, 6);
      case ACTIVATION.RELU_N1_TO_1:
        return this.clip(x, -1, 1);
      case ACTIVATION.TANH:
        return this.b.op('Tanh', [x]);
      default:
        throw new VergeError('E_UNSUPPORTED', `${what}: fused activation ${code} is not supported`);
    }
  }

  clip(x: string, min: number, max: number): string {
    return this.b.op('Clip', [x, this.b.scalar(min, 'float32', 'clip_min'), this.b.scalar(max, 'float32', 'clip_max')]);
  }

  /** NHWC → NCHW around an op ONNX defines on NCHW; returns the NHWC result of `f`. */
  nchw(x: string, f: (nchw: string) => string): string {
    const inner = this.b.op('Transpose', [x], { perm: [0, 3, 1, 2] });
    return this.b.op('Transpose', [f(inner)], { perm: [0, 2, 3, 1] });
  }
}

/** Transpose row-major `values` of `shape` by `perm` (out dim i = in dim perm[i]). */
export function permute<T extends ConstData['values']>(
  values: T,
  shape: number[],
  perm: number[],
): { values: T; shape: number[] } {
  const out = new (values.constructor as new (n: number) => T)(values.length);
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = strides(shape);
  const outStrides = strides(outShape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < values.length; o++) {
    let rem = o;
    let src = 0;
    for (let d = 0; d < outShape.length; d++) {
      idx[d] = Math.floor(rem / outStrides[d]!);
      rem -= idx[d]! * outStrides[d]!;
      src += idx[d]! * inStrides[perm[d]!]!;
    }
    out[o] = values[src]!;
  }
  return { values: out, shape: outShape };
}

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}
