/**
 * Weight-only n-bit quantization (2–8 bits) with bit-packed storage, so the file really shrinks.
 * Two schemes:
 * - 'fixed-point': the formula of the documents this project starts from, w ≈ round(w·2^b)/2^b,
 *   i.e. a fixed grid of step 2^-b; codes are clamped to the b-bit signed range, so weights beyond
 *   ±0.5 are clipped (the report says how many).
 * - 'affine' (default): per-channel (or per-tensor) scale and zero point over each channel's
 *   [min, max], w ≈ (q − z)·s with q in [0, 2^b − 1].
 * Storage: 8-bit codes as uint8; 4-bit as an ONNX UINT4 initializer when the model's opset has it
 * (>= 21); any other width as a uint8 bit stream (8 codes in b bytes) plus a small subgraph of
 * standard integer ops (Cast, Gather, Mul, Add, Div, Mod) that unpacks it. Dequantization is
 * Cast→Sub→Mul. Everything is constant, so onnxruntime folds it once at load and runs float32.
 */
import { VergeError } from '../../errors.ts';
import {
  cloneModel,
  GraphBuilder,
  defaultOpset,
  layoutAxis,
  numel,
  weightLayout,
  type Graph,
  type Model,
  type Node,
} from '../../onnx/browser.ts';
import { GraphIndex } from '../passes/graph-index.ts';
import { countOps, float32Data, modelBytes, nodeLabel, type QuantizeResult, type SkippedNode } from './common.ts';

export type WeightBitsScheme = 'fixed-point' | 'affine';
export const MIN_WEIGHT_BITS = 2;
export const MAX_WEIGHT_BITS = 8;

export interface WeightBitsOptions {
  bits: number;
  scheme?: WeightBitsScheme;
  /** Affine scheme only: one scale/zero point per output channel (default true). */
  perChannel?: boolean;
  /** 'auto' (default): UINT4 for 4-bit when opset >= 21; 'packed': always the bit stream. */
  storage?: 'auto' | 'packed';
}

/** UINT4 initializers and Cast from them: ONNX opset 21. */
const UINT4_OPSET = 21;

interface Codes {
  codes: Uint8Array;
  scale: Float32Array;
  zero: Float32Array;
  clipped: number;
}

/** Quantize one tensor to unsigned b-bit codes with scale/zero point per channel of `axis`. */
export function quantizeWeightCodes(
  data: Float32Array,
  dims: readonly number[],
  bits: number,
  scheme: WeightBitsScheme,
  axis: number | undefined,
): Codes {
  const levels = 2 ** bits - 1;
  if (scheme === 'fixed-point') {
    const half = 2 ** (bits - 1);
    const codes = new Uint8Array(data.length);
    let clipped = 0;
    for (let i = 0; i < data.length; i++) {
      const q = Math.round(data[i]! * 2 ** bits) + half;
      const c = Math.max(0, Math.min(levels, q));
      if (c !== q) clipped++;
      codes[i] = c;
    }
    return { codes, scale: Float32Array.of(2 ** -bits), zero: Float32Array.of(half), clipped };
  }
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? data.length : numel(dims.slice(axis + 1));
  const lo = new Float64Array(channels).fill(0);
  const hi = new Float64Array(channels).fill(0);
  for (let i = 0; i < data.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    const v = data[i]!;
    if (v < lo[c]!) lo[c] = v;
    if (v > hi[c]!) hi[c] = v;
  }
  const scale = new Float32Array(channels);
  const zero = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = (hi[c]! - lo[c]!) / levels;
    scale[c] = s > 0 ? s : 1;
    zero[c] = Math.max(0, Math.min(levels, Math.round(-lo[c]! / scale[c]!)));
  }
  const codes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    codes[i] = Math.max(0, Math.min(levels, Math.round(data[i]! / scale[c]! + zero[c]!)));
  }
  return { codes, scale, zero, clipped: 0 };
}

/** Pack b-bit codes little-endian, 8 codes per b bytes (the last group zero-padded). */
export function packBits(codes: Uint8Array, bits: number): Uint8Array {
  const groups = Math.ceil(codes.length / 8);
  const out = new Uint8Array(groups * bits);
  let bit = 0;
  for (let i = 0; i < codes.length; i++, bit += bits) {
    const v = codes[i]!;
    const byte = bit >> 3;
    const shift = bit & 7;
    out[byte]! |= (v << shift) & 0xff;
    if (shift + bits > 8) out[byte + 1]! |= v >> (8 - shift);
  }
  return out;
}

/** Inverse of packBits (for tests and tools). */
export function unpackBits(packed: Uint8Array, bits: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const mask = (1 << bits) - 1;
  for (let i = 0, bit = 0; i < count; i++, bit += bits) {
    const byte = bit >> 3;
    const word = packed[byte]! | ((packed[byte + 1] ?? 0) << 8);
    out[i] = (word >> (bit & 7)) & mask;
  }
  return out;
}

/** Weight-only n-bit quantization. Pure. */
export function quantizeWeightBits(model: Model, opts: WeightBitsOptions): QuantizeResult {
  const bits = opts.bits;
  if (!Number.isInteger(bits) || bits < MIN_WEIGHT_BITS || bits > MAX_WEIGHT_BITS) {
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--bits must be an integer from ${MIN_WEIGHT_BITS} to ${MAX_WEIGHT_BITS}, got ${bits}`,
    );
  }
  const scheme = opts.scheme ?? 'affine';
  if (scheme !== 'affine' && scheme !== 'fixed-point')
    throw new VergeError('E_BAD_ARGUMENT', `unknown weight-bits scheme '${String(scheme)}' (affine, fixed-point)`);
  const perChannel = scheme === 'affine' && (opts.perChannel ?? true);
  const opset = defaultOpset(model) ?? 0;
  if (opset < 11)
    throw new VergeError('E_UNSUPPORTED', `weight-bits quantization needs ONNX opset >= 11; this model uses ${opset}`);
  const useUint4 = bits === 4 && opset >= UINT4_OPSET && (opts.storage ?? 'auto') === 'auto';

  const out = cloneModel(model);
  const g = out.graph;
  const idx = new GraphIndex(g);
  const b = new GraphBuilder(scratch(g));
  for (const n of g.nodes) for (const v of [...n.inputs, ...n.outputs, n.name]) if (v) b.uniqueName(v);
  for (const t of g.initializers) b.uniqueName(t.name);
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) b.uniqueName(v.name);
  const pre: Node[] = [];
  const emit = (op: string, inputs: string[], attrs: Node['attributes'] = {}, prefix = inputs[0]!): string => {
    const o = b.uniqueName(`${prefix}_${op}`);
    pre.push({ name: b.uniqueName(`${o}_node`), opType: op, domain: '', inputs, outputs: [o], attributes: attrs });
    return o;
  };

  // Decide each weight initializer's channel axis; skip weights used inconsistently.
  const axisOf = new Map<string, number>();
  const skipped: SkippedNode[] = [];
  const quantizedNodes: Node[] = [];
  g.nodes.forEach((n, i) => {
    const layout = weightLayout(n);
    const name = layout && n.inputs[layout.weight];
    const t = name ? idx.constant(name) : undefined;
    if (!layout || !name || !t) return;
    if (t.dtype !== 'float32') {
      skipped.push({ node: nodeLabel(n, i), op: n.opType, reason: `weight is ${t.dtype}, not float32` });
      return;
    }
    const ax = layoutAxis(layout.outAxis, t.dims.length);
    const prev = axisOf.get(name);
    if (prev !== undefined && prev !== ax) axisOf.set(name, -1);
    else axisOf.set(name, ax);
    quantizedNodes.push(n);
  });

  const rename = new Map<string, string>();
  let clipped = 0;
  let weights = 0;
  let weightElements = 0;
  for (const [name, ax] of axisOf) {
    const t = idx.constant(name)!;
    const axis = perChannel && ax >= 0 && t.dims.length > 0 ? ax : undefined;
    const data = float32Data(t)!;
    const q = quantizeWeightCodes(data, t.dims, bits, scheme, axis);
    clipped += q.clipped;
    weights++;
    weightElements += data.length;
    const count = data.length;
    let codes: string;
    if (bits === 8) {
      codes = b.initializer(`${name}_codes`, 'uint8', t.dims, q.codes);
    } else if (useUint4) {
      codes = b.initializer(`${name}_codes`, 'uint4', t.dims, packBits(q.codes, 4));
    } else {
      codes = unpackSubgraph(b, emit, name, packBits(q.codes, bits), bits, count, t.dims);
    }
    // Dequantize: (float(q) − z) · s, with z and s shaped to broadcast along the channel axis.
    const bshape = axis === undefined ? [] : t.dims.map((d, k) => (k === axis ? d : 1));
    const zf = b.initializer(`${name}_zero_point`, 'float32', bshape, q.zero);
    const sf = b.initializer(`${name}_scale`, 'float32', bshape, q.scale);
    const asFloat = emit('Cast', [codes], { to: { type: 'int', value: 1 } }, name);
    const centered = emit('Sub', [asFloat, zf], {}, name);
    rename.set(name, emit('Mul', [centered, sf], {}, name));
  }
  g.nodes = [...pre, ...g.nodes.map((n) => ({ ...n, inputs: n.inputs.map((v) => rename.get(v) ?? v) }))];
  g.initializers = [...g.initializers.filter((t) => !rename.has(t.name)), ...b.graph.initializers];
  return {
    model: out,
    report: {
      mode: 'weight-bits',
      quantized_nodes: new Set(quantizedNodes).size,
      quantized_ops: countOps(new Set(quantizedNodes)),
      skipped,
      bytes_in: modelBytes(model),
      bytes_out: modelBytes(out),
      bits,
      scheme,
      per_channel: perChannel,
      storage: bits === 8 ? 'uint8' : useUint4 ? 'uint4' : `packed uint8 stream (${bits} bits/weight)`,
      weights_quantized: weights,
      weight_elements: weightElements,
      clipped_fraction: weightElements ? clipped / weightElements : 0,
    },
  };
}

/**
 * Subgraph that turns the packed stream back into uint8 codes of shape `dims`. Code k of a group
 * starts at bit b·k, so it lies in bytes ⌊b·k/8⌋ and the next one:
 * code = (lo + 256·hi) / 2^(b·k mod 8) mod 2^b, all in int32 (values < 2^16 stay exact).
 */
function unpackSubgraph(
  b: GraphBuilder,
  emit: (op: string, inputs: string[], attrs?: Node['attributes'], prefix?: string) => string,
  name: string,
  packed: Uint8Array,
  bits: number,
  count: number,
  dims: readonly number[],
): string {
  const groups = packed.length / bits;
  const loIdx: number[] = [];
  const hiIdx: number[] = [];
  const hiWeight: number[] = [];
  const divisor: number[] = [];
  for (let k = 0; k < 8; k++) {
    const lo = (bits * k) >> 3;
    const shift = (bits * k) & 7;
    loIdx.push(lo);
    const spans = shift + bits > 8;
    hiIdx.push(spans ? lo + 1 : lo);
    hiWeight.push(spans ? 256 : 0);
    divisor.push(2 ** shift);
  }
  const stream = b.initializer(`${name}_packed${bits}`, 'uint8', [groups, bits], packed);
  const bytes = emit('Cast', [stream], { to: { type: 'int', value: 6 } }, name);
  const axis1 = { axis: { type: 'int' as const, value: 1 } };
  const lo = emit('Gather', [bytes, b.constInt64(loIdx, [8], `${name}_lo_byte`)], axis1, name);
  const hi = emit('Gather', [bytes, b.constInt64(hiIdx, [8], `${name}_hi_byte`)], axis1, name);
  const hiScaled = emit('Mul', [hi, b.initializer(`${name}_hi_weight`, 'int32', [8], hiWeight)], {}, name);
  const word = emit('Add', [lo, hiScaled], {}, name);
  const shifted = emit('Div', [word, b.initializer(`${name}_shift`, 'int32', [8], divisor)], {}, name);
  const masked = emit('Mod', [shifted, b.initializer(`${name}_modulus`, 'int32', [], [2 ** bits])], {}, name);
  const flat = emit('Reshape', [masked, b.constInt64([-1], [1], `${name}_flat`)], {}, name);
  const head = emit(
    'Slice',
    [flat, b.constInt64([0], [1], `${name}_start`), b.constInt64([count], [1], `${name}_end`)],
    {},
    name,
  );
  const shaped = emit('Reshape', [head, b.constInt64([...dims], [dims.length], `${name}_shape`)], {}, name);
  return emit('Cast', [shaped], { to: { type: 'int', value: 2 } }, name);
}

function scratch(g: Graph): Graph {
  return { name: g.name, nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [] };
}
