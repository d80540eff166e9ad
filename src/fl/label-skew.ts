/**
 * Client-side label-skew corrections: what a client's loss does with the classes it holds few or
 * none of. Both act only on the client's own training objective (the server still averages with
 * FedAvg or whichever strategy), through a per-class logit scale and offset inside the loss
 * (TrainingSessionOptions.logitAdjust); inference is unchanged. A client computes them from its
 * own label counts, which never leave it.
 *
 * - `restricted_softmax` α ∈ [0, 1] (FedRS, Li & Zhan, KDD 2021): the logits of classes the client
 *   has no sample of are multiplied by α in its loss, so local training pushes those classes' head
 *   rows (and the features) down less. 1 = off.
 * - `logit_calibration` τ ≥ 0 (after FedLC, Zhang et al., ICML 2022): the logit of class c is
 *   lowered by τ · n_c^(−1/4) (n_c = the client's count of c) before the softmax, so rarer classes
 *   need a larger margin and frequent ones stop dominating the head. A class the client lacks is
 *   out of its softmax (offset ABSENT_OFFSET: its probability underflows to 0). verge uses the
 *   standard softmax cross-entropy over the calibrated logits (the logit-adjusted loss of Menon et
 *   al. 2021); the paper's loss leaves the label class out of the denominator. 0 = off.
 */
import { VergeError } from '../errors.ts';
import type { ClientConfig } from './strategy/strategy.ts';

/** Offset of a class the client has no sample of under logit calibration (exp(−1e4) is 0 in float32). */
export const ABSENT_OFFSET = -1e4;

export interface LabelSkewCorrection {
  /** FedRS's α for the classes the client lacks (1 = off). */
  restrictedSoftmax: number;
  /** FedLC's τ (0 = off). */
  logitCalibration: number;
}

/** The correction a fit config asks for (both keys optional), or undefined when it asks for none. */
export function labelSkewFromConfig(config: ClientConfig): LabelSkewCorrection | undefined {
  const read = (key: string, fallback: number, ok: (v: number) => boolean, range: string) => {
    const v = config[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !ok(v))
      throw new VergeError('E_PROTOCOL', `client config '${key}' must be a number ${range}, got ${JSON.stringify(v)}`);
    return v;
  };
  const restrictedSoftmax = read('restricted_softmax', 1, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const logitCalibration = read('logit_calibration', 0, (v) => v >= 0 && Number.isFinite(v), '≥ 0');
  return restrictedSoftmax < 1 || logitCalibration > 0 ? { restrictedSoftmax, logitCalibration } : undefined;
}

/** How many samples of each class `labels` holds (labels outside [0, classes) are refused). */
export function labelCounts(labels: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const y of labels) {
    if (!(y >= 0 && y < classes))
      throw new VergeError('E_DATA_INVALID', `label ${y} is outside the model's ${classes} classes`);
    counts[y]!++;
  }
  return counts;
}

/** The per-class logit scale and offset of a correction for a client with these label counts. */
export function logitAdjustment(
  counts: readonly number[],
  c: LabelSkewCorrection,
): { scale: Float32Array; offset: Float32Array } {
  const scale = Float32Array.from(counts, (n) => (n > 0 ? 1 : c.restrictedSoftmax));
  const offset = Float32Array.from(counts, (n) =>
    c.logitCalibration > 0 ? (n > 0 ? -c.logitCalibration * n ** -0.25 : ABSENT_OFFSET) : 0,
  );
  return { scale, offset };
}
