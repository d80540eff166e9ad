/** Row-major float64 matrices and the few linear-algebra pieces the HMMs need. */
import { VergeError } from '../errors.ts';

export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Observations as hmmlearn takes them: a list of rows, or a row-major matrix. */
export type Observations = number[][] | Matrix;

export function asMatrix(X: Observations, what = 'X'): Matrix {
  if (!Array.isArray(X)) {
    if (X.data.length !== X.rows * X.cols)
      throw new VergeError('E_SHAPE_MISMATCH', `${what}: ${X.data.length} values do not make ${X.rows}×${X.cols}`);
    return X;
  }
  const rows = X.length;
  const cols = rows ? X[0]!.length : 0;
  const data = new Float64Array(rows * cols);
  X.forEach((r, i) => {
    if (r.length !== cols)
      throw new VergeError('E_SHAPE_MISMATCH', `${what}: row ${i} has ${r.length} values, row 0 has ${cols}`);
    data.set(r, i * cols);
  });
  return { rows, cols, data };
}

/** Rows [from, to) as a view. */
export function rowSlice(X: Matrix, from: number, to: number): Matrix {
  return { rows: to - from, cols: X.cols, data: X.data.subarray(from * X.cols, to * X.cols) };
}

export function logSumExp(values: ArrayLike<number>, from = 0, to = values.length, stride = 1): number {
  let max = -Infinity;
  for (let i = from; i < to; i += stride) if (values[i]! > max) max = values[i]!;
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (let i = from; i < to; i += stride) s += Math.exp(values[i]! - max);
  return max + Math.log(s);
}

/** Lower Cholesky factor of a symmetric positive-definite d×d matrix; E_BAD_ARGUMENT otherwise. */
export function cholesky(a: ArrayLike<number>, d: number, what: string): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
      if (i === j) {
        if (!(s > 0)) throw new VergeError('E_BAD_ARGUMENT', `${what} is not positive definite`);
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / L[j * d + j]!;
    }
  }
  return L;
}

/** L⁻¹ for a lower-triangular L (the ONNX export multiplies by it instead of solving). */
export function invertLower(L: Float64Array, d: number): Float64Array {
  const inv = new Float64Array(d * d);
  for (let c = 0; c < d; c++) {
    for (let i = c; i < d; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= L[i * d + k]! * inv[k * d + c]!;
      inv[i * d + c] = s / L[i * d + i]!;
    }
  }
  return inv;
}

/** Column means and (biased) covariance of the rows of X. */
export function meanAndCovariance(X: Matrix): { mean: Float64Array; cov: Float64Array } {
  const { rows, cols: d, data } = X;
  const mean = new Float64Array(d);
  for (let t = 0; t < rows; t++) for (let k = 0; k < d; k++) mean[k]! += data[t * d + k]!;
  for (let k = 0; k < d; k++) mean[k]! /= Math.max(1, rows);
  const cov = new Float64Array(d * d);
  for (let t = 0; t < rows; t++)
    for (let a = 0; a < d; a++) {
      const za = data[t * d + a]! - mean[a]!;
      for (let b = 0; b < d; b++) cov[a * d + b]! += za * (data[t * d + b]! - mean[b]!);
    }
  for (let i = 0; i < d * d; i++) cov[i]! /= Math.max(1, rows - 1);
  return { mean, cov };
}
