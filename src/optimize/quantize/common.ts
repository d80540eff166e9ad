/**
 * What every quantizer shares: the result/report shape, quantization arithmetic (scale and zero
 * point from a range, per-channel symmetric weights), element-type inference over a graph, and
 * byte accounting.
 */
import { deepFreeze } from '../../frozen.ts';
import { VergeError } from '../../errors.ts';
import {
  encodeModel,
  inferShapes,
  type DType,
  defaultOpset,
  numel,
  type Model,
  type Node,
  type Tensor,
} from '../../onnx/browser.ts';

export type QuantizeMode = 'dynamic' | 'static' | 'fp16' | 'weight-bits' | 'qat';

/** A node left in float and why: the same record the graph passes report. */
export type { SkippedNode } from '../passes/constant-folding.ts';
import type { SkippedNode } from '../passes/constant-folding.ts';

export interface QuantizeReport {
  mode: QuantizeMode;
  /** Nodes now computed in the reduced precision (or whose weights are stored reduced). */
  quantized_nodes: number;
  /** Count of quantized nodes per op type. */
  quantized_ops: Record<string, number>;
  skipped: SkippedNode[];
  bytes_in: number;
  bytes_out: number;
  /** Mode-specific details (calibration ranges summary, bits, scheme, ...). */
  [extra: string]: unknown;
}

export interface QuantizeResult {
  model: Model;
  report: QuantizeReport;
}

/** An observed or chosen real-valued range of a tensor. */
export interface ActivationRange {
  min: number;
  max: number;
}

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/** Integer limits of the quantized element types verge emits. */
export const QRANGE: Readonly<Record<'uint8' | 'int8', { readonly lo: number; readonly hi: number }>> = deepFreeze({
  uint8: { lo: 0, hi: 255 },
  int8: { lo: -128, hi: 127 },
});

/**
 * Smallest scale verge emits: a constant tensor (range of width 0) would otherwise give scale 0,
 * which QuantizeLinear divides by. Any positive value is exact for a constant 0.
 */
export const MIN_SCALE = 1e-8;

/**
 * Asymmetric affine parameters for a range. The range is widened to include 0 so that 0 (padding,
 * ReLU output) is exactly representable, as the ONNX quantization spec requires.
 */
export function affineParams(range: ActivationRange, qtype: 'uint8' | 'int8'): QuantParams {
  const { lo, hi } = QRANGE[qtype];
  const rmin = Math.min(0, range.min);
  const rmax = Math.max(0, range.max);
  let scale = (rmax - rmin) / (hi - lo);
  if (!(scale > MIN_SCALE) || !Number.isFinite(scale))
    scale = rmax - rmin > 0 && Number.isFinite(rmax - rmin) ? MIN_SCALE : 1;
  const zeroPoint = Math.min(hi, Math.max(lo, Math.round(lo - rmin / scale)));
  return { scale, zeroPoint };
}

/** Round half to even, as QuantizeLinear does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface ChannelQuantized {
  /** Quantized values, same layout as the input. */
  q: Int8Array;
  /** One scale per channel (or one for per-tensor). */
  scales: Float32Array;
}

/** Largest magnitude int8 symmetric weights use: ±127 keeps the range symmetric (no -128). */
export const INT8_SYMMETRIC_MAX = 127;

/**
 * Largest magnitude of reduced-range (7-bit) int8 weights: onnxruntime's u8 × s8 kernels on x86
 * without VNNI (AVX2, AVX-512 without VNNI) add pairs of products in int16 with saturation, which
 * 255 · 127 · 2 overflows and 255 · 63 · 2 does not.
 */
export const INT8_REDUCED_MAX = 63;

/**
 * Symmetric int8 quantization of a weight tensor along `axis` (per channel) or as a whole
 * (axis undefined): scale = max|w| / `max` (127, or {@link INT8_REDUCED_MAX}), zero point 0.
 */
export function quantizeSymmetricInt8(
  data: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
  max: number = INT8_SYMMETRIC_MAX,
): ChannelQuantized {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? data.length : numel(dims.slice(axis + 1));
  const absmax = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    const a = Math.abs(data[i]!);
    if (a > absmax[c]!) absmax[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = absmax[c]! > 0 ? absmax[c]! / max : 1;
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    const v = roundHalfEven(data[i]! / scales[c]!);
    q[i] = Math.max(-max, Math.min(max, v));
  }
  return { q, scales };
}

/** float32 view of a float initializer (float64 converted), or undefined for other types. */
export function float32Data(t: Tensor): Float32Array | undefined {
  if (t.data instanceof Float32Array && t.dtype === 'float32') return t.data;
  if (t.data instanceof Float64Array) return Float32Array.from(t.data);
  return undefined;
}

/** Serialized size of a model in bytes. */
export function modelBytes(model: Model): number {
  return encodeModel(model).length;
}

export function countOps(nodes: Iterable<Node>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of nodes) out[n.opType] = (out[n.opType] ?? 0) + 1;
  return out;
}

/** The default-domain opset, or an error naming what is missing. */
export function requireOpset(model: Model, min: number, what: string): number {
  const v = defaultOpset(model);
  if (v === undefined) throw new VergeError('E_MODEL_INVALID', `${what}: the model imports no default ONNX opset`);
  if (v < min) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `${what} needs ONNX opset >= ${min}; this model uses opset ${v} (re-export it with a newer opset)`,
    );
  }
  return v;
}

/** Make sure the model imports `domain` (e.g. com.microsoft) at least at `version`. */
export function ensureOpsetImport(model: Model, domain: string, version: number): void {
  const found = model.opsetImports.find((o) => o.domain === domain);
  if (!found) model.opsetImports.push({ domain, version });
  else if (found.version < version) found.version = version;
}

/**
 * Element type of every value of the main graph that onnx/shape inference decides (inputs,
 * initializers, node outputs; declared types fill what it cannot). The quantizers use it to tell
 * float activations from shapes, indices and masks; unknown values are absent.
 */
export function inferElementTypes(model: Model): Map<string, DType> {
  const types = new Map<string, DType>();
  for (const [name, t] of inferShapes(model)) types.set(name, t.dtype);
  return types;
}

/** Node name for reports (nodes may be unnamed in exported models). */
export function nodeLabel(n: Node, index: number): string {
  return n.name || `${n.opType}_${index}`;
}
