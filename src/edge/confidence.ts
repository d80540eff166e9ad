/**
 * How sure a classifier was, per sample, from its first output: the predicted class, the top-1
 * probability, the margin to the runner-up and the entropy (nats). Outputs that already are
 * probabilities (rows in [0, 1] summing to 1) are used as they are; anything else is treated as
 * logits and put through a softmax.
 */
import type { CollectReason, HardExampleRules } from '../protocol/index.ts';

export interface PredictionConfidence {
  predicted: number;
  top1: number;
  margin: number;
  entropy: number;
}

/** A row summing to 1 within this is taken as probabilities (float32 softmax rows sum to 1 ± ~1e-6). */
const PROBABILITY_SUM_TOLERANCE = 1e-3;

function rowConfidence(row: ArrayLike<number>): PredictionConfidence {
  const n = row.length;
  let sum = 0;
  let inUnit = true;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = Number(row[i]);
    sum += v;
    if (!(v >= 0 && v <= 1)) inUnit = false;
    if (v > max) max = v;
  }
  const p = new Float64Array(n);
  if (inUnit && Math.abs(sum - 1) <= PROBABILITY_SUM_TOLERANCE) {
    for (let i = 0; i < n; i++) p[i] = Number(row[i]) / sum;
  } else {
    let z = 0;
    for (let i = 0; i < n; i++) z += p[i] = Number.isFinite(max) ? Math.exp(Number(row[i]) - max) : 1;
    for (let i = 0; i < n; i++) p[i]! /= z || 1;
  }
  let best = 0;
  let second = -1;
  for (let i = 1; i < n; i++) {
    if (p[i]! > p[best]!) {
      second = best;
      best = i;
    } else if (second < 0 || p[i]! > p[second]!) second = i;
  }
  let entropy = 0;
  for (let i = 0; i < n; i++) if (p[i]! > 0) entropy -= p[i]! * Math.log(p[i]!);
  const top1 = n ? p[best]! : 0;
  const top2 = second >= 0 ? p[second]! : 0;
  return { predicted: best, top1, margin: Math.max(0, top1 - top2), entropy: Math.max(0, entropy) };
}

/**
 * Per-sample confidence of a [batch, classes] (or [classes]) output; empty when the output is not
 * a class score vector (a rank above 2, or a single score per sample).
 */
export function outputConfidence(dims: readonly number[], data: ArrayLike<number>): PredictionConfidence[] {
  if (dims.length === 0 || dims.length > 2) return [];
  const classes = dims[dims.length - 1]!;
  const batch = dims.length === 2 ? dims[0]! : 1;
  if (classes < 2 || batch * classes !== data.length) return [];
  const out: PredictionConfidence[] = [];
  for (let b = 0; b < batch; b++) {
    const row = new Array<number>(classes);
    for (let c = 0; c < classes; c++) row[c] = Number(data[b * classes + c]);
    out.push(rowConfidence(row));
  }
  return out;
}

/** The first hard-example rule a prediction matches, or null (rules left out never match). */
export function hardExampleReason(c: PredictionConfidence, rules: HardExampleRules): CollectReason | null {
  if (rules.top1_below !== undefined && c.top1 < rules.top1_below) return 'top1';
  if (rules.margin_below !== undefined && c.margin < rules.margin_below) return 'margin';
  if (rules.entropy_above !== undefined && c.entropy > rules.entropy_above) return 'entropy';
  return null;
}
