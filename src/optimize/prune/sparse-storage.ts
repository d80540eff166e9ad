/**
 * Sparse initializers: weights that are mostly zeros are stored as ONNX SparseTensorProtos
 * (graph.sparse_initializer: non-zero values + indices), so a pruned model's file really shrinks.
 * onnxruntime densifies them when it loads the model (verified for Conv, Gemm and MatMul weights;
 * it accepts int8/int16/int32/int64 indices).
 *
 * Layouts: 'mask' (default; mask-storage.ts) keeps the non-zero values and a bitmask as plain
 * initializers that standard ops rebuild (opset ≥ 11 with CumSum, opsets 9–10 with NonZero and
 * Scatter) — checker-valid and the smallest above ~20% sparsity. Below opset 9 no standard op can
 * rebuild it, and the default writes pruned weights dense (zeros and all: the file does not shrink,
 * and the report says so — `stored: 'dense'`) rather than a file the checker rejects.
 * 'int64' (opt-in) writes ONNX sparse initializers with int64 indices, 8 bytes of index per
 * non-zero, which costs more than it saves below ~67% sparsity; onnxruntime loads them, but ONNX
 * 1.12's full_check fails them in shape inference (a sparse_tensor input of Gemm). 'compact'
 * (opt-in, NOT standard-valid: the checker rejects its indices) uses int16 linearized indices,
 * splitting a tensor of more than 32,767 elements into 1-D sparse chunks that a Concat + Reshape
 * (folded away by onnxruntime's constant folding at load) reassemble: 6 bytes per non-zero instead of 12.
 */
import { VergeError } from '../../errors.ts';
import {
  cloneModel,
  makeTensor,
  type Graph,
  type Model,
  type Node,
  type SparseTensor,
  type Tensor,
  defaultOpset,
  numel,
} from '../../onnx/browser.ts';
import { foldMaskedWeights, maskedBytes, maskedWeight, MASKED_MIN_OPSET } from './mask-storage.ts';

export type SparseIndexLayout = 'mask' | 'int64' | 'compact';
export const SPARSE_LAYOUTS: readonly SparseIndexLayout[] = Object.freeze(['mask', 'int64', 'compact']);
/** The layout `verge prune` writes unless told otherwise: standard-valid and the smallest. */
export const DEFAULT_SPARSE_LAYOUT: SparseIndexLayout = 'mask';

/** Largest linear index an int16 can hold: the chunk size of the compact layout. */
export const INT16_CHUNK = 32767;
/**
 * Store a tensor sparse only when values + indices take at most this fraction of its dense bytes:
 * a smaller saving is not worth the different layout.
 */
export const MAX_SPARSE_FRACTION = 0.8;
/** Tensors smaller than this stay dense: the per-tensor overhead outweighs the savings. */
export const MIN_SPARSE_ELEMENTS = 256;

/** Marks the Concat/Reshape nodes that reassemble chunked sparse tensors (so densify can fold them). */
export const SPARSE_CHUNK_DOC = 'verge: reassembles a chunked sparse initializer';

export interface SparseStorageOptions {
  layout?: SparseIndexLayout;
  /** Only tensors at least this sparse (default 0: decided by bytes saved alone). */
  minSparsity?: number;
}

type SparseData = Float32Array | Int8Array | Uint8Array;

/**
 * How the pruned weights were written: the layout asked for, or 'dense' when the model's opset has
 * no standard ops to rebuild a mask (below MASKED_MIN_OPSET) and the default layout was asked for.
 */
export type SparseStorage = SparseIndexLayout | 'dense';

export interface SparseStorageReport {
  stored: SparseStorage;
  /** Why the weights were not stored in the layout asked for (absent when they were). */
  note?: string;
  tensors: { name: string; elements: number; nonZeros: number; chunks: number }[];
  denseBytes: number;
  /** Bytes of sparse initializers (int64/compact layouts) … */
  sparseBytes: number;
  /** … and of masked weights' values and bitmasks (mask layout). */
  maskBytes: number;
}

function zerosOf(data: SparseData): number {
  let z = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0) z++;
  return z;
}

function sparseChunk(
  name: string,
  dtype: 'float32' | 'int8' | 'uint8',
  data: SparseData,
  offset: number,
  length: number,
  dims: number[],
  layout: SparseIndexLayout,
): SparseTensor {
  const idx: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < length; i++) {
    const v = data[offset + i]!;
    if (v !== 0) {
      idx.push(i);
      vals.push(v);
    }
  }
  const indexType = layout === 'int64' ? 'int64' : length <= 128 ? 'int8' : 'int16';
  return {
    values: makeTensor(name, dtype, [vals.length], vals),
    indices: makeTensor(`${name}_indices`, indexType, [idx.length], idx),
    dims,
  };
}

/** Convert sparse-enough float32 initializers to sparse initializers. Pure. */
export function toSparseInitializers(
  model: Model,
  opts: SparseStorageOptions = {},
): { model: Model; report: SparseStorageReport } {
  const layout = opts.layout ?? DEFAULT_SPARSE_LAYOUT;
  const opset = defaultOpset(model) ?? 0;
  if (layout === 'mask' && opset < MASKED_MIN_OPSET) {
    // int64 sparse initializers would load, but fail the ONNX checker: a standard-valid file first
    const note = `opset ${opset} has no ops to rebuild a masked weight (NonZero, Scatter: opset ${MASKED_MIN_OPSET}); pruned weights stay dense (--layout int64 stores them as ONNX sparse initializers, which ONNX 1.12's checker fails)`;
    return {
      model: cloneModel(model),
      report: { stored: 'dense', note, tensors: [], denseBytes: 0, sparseBytes: 0, maskBytes: 0 },
    };
  }
  const minSparsity = opts.minSparsity ?? 0;
  const out = cloneModel(model);
  const g = out.graph;
  const inputs = new Set(g.inputs.map((i) => i.name));
  const report: SparseStorageReport = { stored: layout, tensors: [], denseBytes: 0, sparseBytes: 0, maskBytes: 0 };
  const keep: Tensor[] = [];
  const newNodes: Node[] = [];
  for (const t of g.initializers) {
    const data = t.data;
    const dtype = t.dtype;
    const supported =
      (dtype === 'float32' && data instanceof Float32Array) ||
      ((dtype === 'int8' || dtype === 'uint8') && (data instanceof Int8Array || data instanceof Uint8Array));
    if (!supported || inputs.has(t.name) || data.length < MIN_SPARSE_ELEMENTS) {
      keep.push(t);
      continue;
    }
    const sparseData = data as SparseData;
    const zeros = zerosOf(sparseData);
    const nnz = data.length - zeros;
    const elementBytes = dtype === 'float32' ? 4 : 1;
    const indexBytes = layout === 'int64' ? 8 : 2;
    const storedBytes =
      layout === 'mask' ? maskedBytes(data.length, nnz, elementBytes) : nnz * (elementBytes + indexBytes);
    if (zeros / data.length < minSparsity || storedBytes > MAX_SPARSE_FRACTION * data.length * elementBytes) {
      keep.push(t);
      continue;
    }
    if (layout === 'mask') {
      const masked = maskedWeight(t, opset);
      keep.push(...masked.initializers);
      newNodes.push(...masked.nodes);
      report.tensors.push({ name: t.name, elements: data.length, nonZeros: nnz, chunks: 1 });
      report.maskBytes += storedBytes;
    } else if (layout === 'int64' || data.length <= INT16_CHUNK) {
      g.sparseInitializers.push(sparseChunk(t.name, dtype, sparseData, 0, data.length, [...t.dims], layout));
      report.tensors.push({ name: t.name, elements: data.length, nonZeros: nnz, chunks: 1 });
    } else {
      const parts: string[] = [];
      for (let off = 0, k = 0; off < data.length; off += INT16_CHUNK, k++) {
        const len = Math.min(INT16_CHUNK, data.length - off);
        const name = `${t.name}__sparse${k}`;
        g.sparseInitializers.push(sparseChunk(name, dtype, sparseData, off, len, [len], layout));
        parts.push(name);
      }
      const flat = `${t.name}__flat`;
      const shape = `${t.name}__shape`;
      keep.push(makeTensor(shape, 'int64', [t.dims.length], t.dims));
      newNodes.push(
        {
          name: `${t.name}__concat`,
          opType: 'Concat',
          domain: '',
          inputs: parts,
          outputs: [flat],
          attributes: { axis: { type: 'int', value: 0 } },
          docString: SPARSE_CHUNK_DOC,
        },
        {
          name: `${t.name}__reshape`,
          opType: 'Reshape',
          domain: '',
          inputs: [flat, shape],
          outputs: [t.name],
          attributes: {},
          docString: SPARSE_CHUNK_DOC,
        },
      );
      report.tensors.push({ name: t.name, elements: data.length, nonZeros: nnz, chunks: parts.length });
    }
    report.denseBytes += data.length * elementBytes;
  }
  g.initializers = keep;
  // Reassembly nodes come first: every weight they produce is read later.
  g.nodes = [...newNodes, ...g.nodes];
  report.sparseBytes = g.sparseInitializers.reduce(
    (s, sp) =>
      s +
      sp.values.data.length * (sp.values.dtype === 'float32' ? 4 : 1) +
      sp.indices.data.length * bytesPerIndex(sp.indices),
    0,
  );
  return { model: out, report };
}

function bytesPerIndex(t: Tensor): number {
  return t.dtype === 'int8' ? 1 : t.dtype === 'int16' ? 2 : t.dtype === 'int32' ? 4 : 8;
}

/** Dense values of one sparse tensor. */
export function sparseToDense(sp: SparseTensor): Tensor {
  const total = numel(sp.dims);
  const dtype = sp.values.dtype;
  if (dtype !== 'float32' && dtype !== 'int8' && dtype !== 'uint8') {
    throw new VergeError(
      'E_UNSUPPORTED',
      `sparse tensor '${sp.values.name}' holds ${dtype}; verge densifies float32, int8 and uint8`,
    );
  }
  const out =
    dtype === 'float32' ? new Float32Array(total) : dtype === 'int8' ? new Int8Array(total) : new Uint8Array(total);
  const vals = sp.values.data as SparseData;
  const idx = sp.indices.data;
  const rank = sp.dims.length;
  const coords = sp.indices.dims.length === 2;
  const strides = sp.dims.map((_, k) => sp.dims.slice(k + 1).reduce((a, b) => a * b, 1));
  for (let i = 0; i < vals.length; i++) {
    let lin = 0;
    if (coords) for (let r = 0; r < rank; r++) lin += Number(idx[i * rank + r]!) * strides[r]!;
    else lin = Number(idx[i]!);
    if (lin < 0 || lin >= total)
      throw new VergeError(
        'E_MODEL_INVALID',
        `sparse tensor '${sp.values.name}' has index ${lin} outside its ${total} elements`,
      );
    out[lin] = vals[i]!;
  }
  return makeTensor(sp.values.name, dtype, [...sp.dims], out);
}

/**
 * Turn sparse initializers back into dense ones (and fold verge's chunk reassembly), e.g. before
 * fine-tuning or quantizing a pruned model. Pure.
 */
export function densifySparseInitializers(model: Model): Model {
  const out = cloneModel(model);
  const g = out.graph;
  foldMaskedWeights(g);
  if (g.sparseInitializers.length === 0) return out;
  for (const sp of g.sparseInitializers) g.initializers.push(sparseToDense(sp));
  g.sparseInitializers = [];
  foldChunkReassembly(g);
  return out;
}

function foldChunkReassembly(g: Graph): void {
  const byName = new Map(g.initializers.map((t) => [t.name, t]));
  const drop = new Set<string>();
  const removed = new Set<Node>();
  for (const n of g.nodes) {
    if (n.docString !== SPARSE_CHUNK_DOC) continue;
    if (n.opType === 'Concat' && n.inputs.every((i) => byName.has(i))) {
      const first = byName.get(n.inputs[0]!)!;
      const parts = n.inputs.map((i) => byName.get(i)!.data as SparseData);
      const total = parts.reduce((s, p) => s + p.length, 0);
      const flat =
        first.dtype === 'float32'
          ? new Float32Array(total)
          : first.dtype === 'int8'
            ? new Int8Array(total)
            : new Uint8Array(total);
      let off = 0;
      for (const p of parts) {
        flat.set(p, off);
        off += p.length;
      }
      const t = makeTensor(n.outputs[0]!, first.dtype, [flat.length], flat);
      byName.set(t.name, t);
      n.inputs.forEach((i) => drop.add(i));
      drop.add(t.name);
      removed.add(n);
    } else if (n.opType === 'Reshape' && byName.has(n.inputs[0]!) && byName.has(n.inputs[1]!)) {
      const dims = Array.from(byName.get(n.inputs[1]!)!.data as BigInt64Array, Number);
      const src = byName.get(n.inputs[0]!)!;
      g.initializers.push(makeTensor(n.outputs[0]!, src.dtype, dims, src.data as SparseData));
      drop.add(n.inputs[1]!);
      removed.add(n);
    }
  }
  g.nodes = g.nodes.filter((n) => !removed.has(n));
  g.initializers = g.initializers.filter((t) => !drop.has(t.name));
}
