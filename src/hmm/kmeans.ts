/** Seeded k-means (k-means++ seeding, Lloyd iterations): HMM mean initialization, as hmmlearn's. */
import { rng } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import type { Matrix } from './matrix.ts';

/** Lloyd iterations at most; k-means here only seeds EM, which refines the means anyway. */
const MAX_ITER = 100;

function dist2(X: Matrix, t: number, c: Float64Array, j: number): number {
  const d = X.cols;
  let s = 0;
  for (let k = 0; k < d; k++) {
    const z = X.data[t * d + k]! - c[j * d + k]!;
    s += z * z;
  }
  return s;
}

/** k cluster centers [k, d] of the rows of X. */
export function kmeans(X: Matrix, k: number, seed: number): Float64Array {
  const { rows: n, cols: d } = X;
  if (n < k) throw new VergeError('E_DATA_INVALID', `k-means needs at least ${k} observations, got ${n}`);
  const random = rng(seed);
  const centers = new Float64Array(k * d);
  const best = new Float64Array(n).fill(Infinity);
  let pick = Math.floor(random() * n);
  for (let j = 0; j < k; j++) {
    centers.set(X.data.subarray(pick * d, (pick + 1) * d), j * d);
    let total = 0;
    for (let t = 0; t < n; t++) {
      best[t] = Math.min(best[t]!, dist2(X, t, centers, j));
      total += best[t]!;
    }
    // k-means++: the next center with probability proportional to the squared distance.
    let r = random() * total;
    pick = n - 1;
    for (let t = 0; t < n; t++) {
      r -= best[t]!;
      if (r <= 0) {
        pick = t;
        break;
      }
    }
  }
  const assign = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  for (let iter = 0; iter < MAX_ITER; iter++) {
    let moved = 0;
    for (let t = 0; t < n; t++) {
      let bj = 0;
      let bd = Infinity;
      for (let j = 0; j < k; j++) {
        const dd = dist2(X, t, centers, j);
        if (dd < bd) {
          bd = dd;
          bj = j;
        }
      }
      if (assign[t] !== bj) moved++;
      assign[t] = bj;
    }
    if (moved === 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let t = 0; t < n; t++) {
      const j = assign[t]!;
      counts[j]!++;
      for (let m = 0; m < d; m++) sums[j * d + m]! += X.data[t * d + m]!;
    }
    for (let j = 0; j < k; j++)
      if (counts[j]! > 0) for (let m = 0; m < d; m++) centers[j * d + m] = sums[j * d + m]! / counts[j]!;
  }
  return centers;
}
