/**
 * Model weights as federated learning moves them: one flat float32 vector plus the layout that
 * says which slice is which initializer. Strategies, compression, secure aggregation and DP all
 * work element-wise on the flat vector; only the client and the model export need the layout.
 */
import { VergeError } from '../errors.ts';

/** One tensor of the weight vector: an initializer name, its dims, and where it sits in the vector. */
export interface WeightSpec {
  name: string;
  dims: number[];
  offset: number;
  size: number;
}

export interface WeightLayout {
  specs: WeightSpec[];
  /** Element count of the whole vector. */
  size: number;
}

/** Layout of tensors given in order. */
export function makeLayout(tensors: { name: string; dims: number[] }[]): WeightLayout {
  const specs: WeightSpec[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = t.dims.reduce((a, b) => a * b, 1);
    specs.push({ name: t.name, dims: [...t.dims], offset, size });
    offset += size;
  }
  return { specs, size: offset };
}

/** A short fingerprint of a layout (names and dims), so peers can tell they train the same model. */
export function layoutKey(layout: WeightLayout): string {
  return layout.specs.map((s) => `${s.name}:${s.dims.join('x')}`).join(';');
}

/** Pack named tensors into one vector following `layout`. */
export function flatten(layout: WeightLayout, tensors: Record<string, ArrayLike<number>>): Float32Array {
  const out = new Float32Array(layout.size);
  for (const s of layout.specs) {
    const t = tensors[s.name];
    if (!t) throw new VergeError('E_SHAPE_MISMATCH', `weights lack tensor '${s.name}'`);
    if (t.length !== s.size)
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `tensor '${s.name}' has ${t.length} values; the model's [${s.dims.join(', ')}] holds ${s.size}`,
      );
    out.set(t, s.offset);
  }
  return out;
}

export function checkLength(layout: WeightLayout, v: Float32Array, what: string): void {
  if (v.length !== layout.size)
    throw new VergeError('E_SHAPE_MISMATCH', `${what} has ${v.length} values; the model has ${layout.size}`);
}

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(v: Float32Array): number {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return i;
  return -1;
}

export function subtract(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

export function add(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

export function l2norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** Scale `v` so its L2 norm is at most `clip` (in place); returns the factor applied. */
export function clipToNorm(v: Float32Array, clip: number): number {
  const n = l2norm(v);
  if (n <= clip || n === 0) return 1;
  const f = clip / n;
  for (let i = 0; i < v.length; i++) v[i]! *= f;
  return f;
}

/** Weighted mean of vectors (float64 accumulation); weights need not sum to 1. */
export function weightedMean(vectors: readonly Float32Array[], weights: readonly number[]): Float32Array {
  if (vectors.length === 0) throw new VergeError('E_BAD_ARGUMENT', 'nothing to average');
  const n = vectors[0]!.length;
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new VergeError('E_BAD_ARGUMENT', `weights sum to ${total}; nothing to average`);
  const acc = new Float64Array(n);
  vectors.forEach((v, k) => {
    const w = weights[k]! / total;
    for (let i = 0; i < n; i++) acc[i]! += w * v[i]!;
  });
  return Float32Array.from(acc);
}

/** Squared L2 distance of two vectors of the same length. */
export function squaredDistance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}
