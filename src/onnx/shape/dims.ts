/**
 * Arithmetic on dimensions that may be symbolic ('batch') or unknown (null). A symbolic dim is
 * carried through unchanged where an op does not touch it; a computed dim that depends on a
 * symbolic or unknown one becomes unknown (null), as ONNX's own inference does.
 */
import type { Dim } from '../ir.ts';

export function known(d: Dim | undefined): d is number {
  return typeof d === 'number';
}

/** Normalise a possibly negative axis; undefined when out of range. */
export function axis(a: number, rank: number): number | undefined {
  const n = a < 0 ? a + rank : a;
  return n >= 0 && n < rank ? n : undefined;
}

/** Apply `f` to known dims; anything unknown or symbolic gives null. */
export function arith(f: (...xs: number[]) => number, ...ds: Dim[]): Dim {
  return ds.every(known) ? f(...(ds as number[])) : null;
}

/** Two dims that must be equal: the better-known one (a number beats a symbol beats null). */
export function unify(a: Dim | undefined, b: Dim | undefined): Dim {
  if (known(a)) return a;
  if (known(b)) return b;
  if (typeof a === 'string') return a;
  if (typeof b === 'string') return b;
  return null;
}

/** Multidirectional (numpy) broadcasting. undefined when a rank is unknown. */
export function broadcast(shapes: (Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const ss = shapes as Dim[][];
  const rank = Math.max(0, ...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const ds = ss.map((s) => s[s.length - rank + i]).filter((d) => d !== undefined) as Dim[];
    const nums = ds.filter(known);
    const big = nums.filter((d) => d !== 1);
    if (big.length) out.push(Math.max(...big));
    else {
      // all dims are 1, symbolic or unknown: 1 broadcasts away; one distinct symbol survives
      const others = ds.filter((d) => d !== 1);
      if (others.length === 0) out.push(1);
      else if (others.every((d) => typeof d === 'string' && d === others[0])) out.push(others[0]!);
      else out.push(null);
    }
  }
  return out;
}

/** Product of dims: a number when all are known; a symbol when it is the only non-1 factor. */
export function product(ds: Dim[]): Dim {
  let n = 1;
  let sym: Dim | undefined;
  for (const d of ds) {
    if (known(d)) n *= d;
    else if (sym === undefined && typeof d === 'string') sym = d;
    else return null;
  }
  if (sym === undefined) return n;
  return n === 1 ? sym : null;
}

/**
 * Output size of a sliding window (Conv, pooling) along one axis.
 * ONNX: floor or ceil((in + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride) + 1.
 */
export function windowOut(
  input: Dim,
  kernel: Dim,
  stride: number,
  dilation: number,
  padBegin: number,
  padEnd: number,
  ceilMode = false,
): Dim {
  if (!known(input) || !known(kernel)) return null;
  const span = input + padBegin + padEnd - dilation * (kernel - 1) - 1;
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // with ceil_mode the last window must start inside the input or its left padding
  if (ceilMode && (out - 1) * stride >= input + padBegin) out--;
  return out;
}
