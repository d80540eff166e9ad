/** Classification metrics over score matrices, shared by training, evaluation and optimization reports. */

/**
 * Rows of a row-major [rows, classes] score matrix whose largest score (the first one on ties, as
 * PyTorch's argmax) is at the label's class. `offset` is where this block of rows starts in `labels`.
 */
export function countTop1(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number = labels.length,
  offset = 0,
): number {
  if (rows === 0) return 0;
  const classes = scores.length / rows;
  let correct = 0;
  for (let i = 0; i < rows; i++) {
    const base = i * classes;
    let best = 0;
    for (let j = 1; j < classes; j++) if (scores[base + j]! > scores[base + best]!) best = j;
    if (best === labels[offset + i]) correct++;
  }
  return correct;
}

/** Fraction of rows whose top-1 class is the label (0 for no rows). */
export function top1Accuracy(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number = labels.length,
): number {
  return rows ? countTop1(scores, labels, rows) / rows : 0;
}
