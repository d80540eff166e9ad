/** Initial emission parameters from data: k-means or uniform segmentation means, global covariance. */
import { VergeError } from '../errors.ts';
import { covarSize, type CovarianceType } from './gaussian.ts';
import { kmeans } from './kmeans.ts';
import { meanAndCovariance, type Matrix } from './matrix.ts';

/**
 * 'kmeans' (hmmlearn's): state means are k-means centers of all frames. 'segments': each sequence
 * is cut into n equal parts and state k's mean is the mean of the k-th parts, which orders the
 * states in time (the usual start for left-to-right word models).
 */
export type InitMethod = 'kmeans' | 'segments';
export const INIT_METHODS: readonly InitMethod[] = Object.freeze(['kmeans', 'segments']);

/** Frames of each state under a uniform segmentation of every sequence into n parts. */
export function segmentFrames(sequences: Matrix[], n: number): Matrix[] {
  const d = sequences[0]!.cols;
  const parts: number[][] = Array.from({ length: n }, () => []);
  for (const s of sequences) {
    for (let t = 0; t < s.rows; t++) {
      const k = Math.min(n - 1, Math.floor((t * n) / s.rows));
      for (let m = 0; m < d; m++) parts[k]!.push(s.data[t * d + m]!);
    }
  }
  return parts.map((p) => ({ rows: p.length / d, cols: d, data: Float64Array.from(p) }));
}

export function initialMeans(
  X: Matrix,
  sequences: Matrix[],
  n: number,
  method: InitMethod,
  seed: number,
): Float64Array {
  if (method === 'kmeans') return kmeans(X, n, seed);
  const d = X.cols;
  const means = new Float64Array(n * d);
  segmentFrames(sequences, n).forEach((part, k) => {
    if (part.rows === 0)
      throw new VergeError(
        'E_DATA_INVALID',
        `sequences are shorter than ${n} frames: state ${k} gets no frame to start from`,
      );
    means.set(meanAndCovariance(part).mean, k * d);
  });
  return means;
}

/** The data's covariance plus minCovar on the diagonal, repeated for n components (hmmlearn's start). */
export function initialCovars(X: Matrix, n: number, type: CovarianceType, minCovar: number): Float64Array {
  const d = X.cols;
  const { cov } = meanAndCovariance(X);
  const one = new Float64Array(covarSize(type, d));
  for (let a = 0; a < d; a++) {
    if (type === 'diag') one[a] = cov[a * d + a]! + minCovar;
    else for (let b = 0; b < d; b++) one[a * d + b] = cov[a * d + b]! + (a === b ? minCovar : 0);
  }
  const out = new Float64Array(n * one.length);
  for (let j = 0; j < n; j++) out.set(one, j * one.length);
  return out;
}
