/**
 * Data-parallel training steps: a batch is cut into shards of rows, each shard's gradients are
 * computed by its own runner of the training graph's gradient part (the session's own, and
 * replicas another thread runs: web workers in a browser, where onnxruntime-web's intra-op threads
 * do not pay), and the shard means are combined, weighted by rows, into the whole batch's mean —
 * what one runner computes on the whole batch, up to float rounding. The optimizer update then
 * runs once (TrainingSession). Which threads run the replicas is the caller's (GradientReplicas).
 */
import { VergeError } from '../errors.ts';
import type { TensorValue } from '../runtime/index.ts';
import type { TrainingGraph } from './training-graph.ts';

/** Runs one model somewhere else (a web worker, …) with verge tensors in and out. */
export interface GraphRunner {
  run(feeds: Record<string, TensorValue>): Promise<Record<string, TensorValue>>;
  release(): Promise<void>;
}

/**
 * Where a data-parallel TrainingSession's replicas run: `start` gets the gradient model (ONNX bytes)
 * once and returns the runners, each computing the gradients of one shard of every batch while the
 * session computes its own.
 */
export interface GradientReplicas {
  start(model: Uint8Array): Promise<GraphRunner[]>;
  /**
   * Rows the session's own thread takes for every row one runner takes (default 1: equal shards).
   * The session's thread also combines the shards' gradients and runs the optimizer update, so a
   * share below 1 can even out the threads' work. Must be > 0.
   */
  ownShare?: number;
  /**
   * true: a model whose step cannot be cut by rows (dataParallelProblem) trains on the session
   * alone (replicaCount 1) instead of being refused; the runners are then never started.
   */
  optional?: boolean;
}

/** Largest ownShare accepted: beyond it the runners would get (almost) no rows. */
export const MAX_OWN_SHARE = 16;

/**
 * Row ranges [start, end) of one shard per weight (rows in proportion to the weights, rounded by
 * largest remainder, ties to the earlier shard; a shard may be empty).
 */
export function shardRows(rows: number, weights: readonly number[]): [number, number][] {
  const total = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (rows * w) / total);
  const counts = exact.map(Math.floor);
  let left = rows - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, k) => ({ k, frac: x - counts[k]! })).sort((a, b) => b.frac - a.frac || a.k - b.k);
  for (const { k } of order) {
    if (left-- <= 0) break;
    counts[k]!++;
  }
  let at = 0;
  return counts.map((n) => {
    const r: [number, number] = [at, at + n];
    at += n;
    return r;
  });
}

/** Row ranges [start, end) of `shards` near-equal shards of `rows` rows (empty shards dropped). */
export function shardRanges(rows: number, shards: number): [number, number][] {
  return shardRows(rows, new Array<number>(shards).fill(1)).filter(([a, b]) => b > a);
}

/** The shard weights of a step: the session's own share first, then 1 per runner (checked). */
export function shardWeights(runners: number, ownShare = 1): number[] {
  if (!(Number.isFinite(ownShare) && ownShare > 0 && ownShare <= MAX_OWN_SHARE))
    throw new VergeError('E_BAD_ARGUMENT', `ownShare must be > 0 and ≤ ${MAX_OWN_SHARE}, got ${ownShare}`);
  return [ownShare, ...new Array<number>(runners).fill(1)];
}

/** Rows [start, end) of a batch-first tensor (a view, no copy). */
export function sliceRows(v: TensorValue, rows: number, start: number, end: number): TensorValue {
  if (v.dims[0] !== rows)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `data-parallel training cuts every fed tensor by rows; one has dims [${v.dims.join(', ')}] for a batch of ${rows}`,
    );
  const per = v.data.length / rows;
  const data = Array.isArray(v.data)
    ? v.data.slice(start * per, end * per)
    : (v.data as Float32Array).subarray(start * per, end * per);
  return { dtype: v.dtype, dims: [end - start, ...v.dims.slice(1)], data: data as TensorValue['data'] };
}

/**
 * Why this training graph cannot be split by rows without changing what a step computes, or
 * undefined: batch statistics (BatchNormalization in training mode) depend on the whole batch,
 * and random masks (Dropout) would repeat in every shard.
 */
export function dataParallelProblem(graph: TrainingGraph): string | undefined {
  if (graph.state.some((s) => s.kind === 'buffer'))
    return 'its training step computes batch statistics (BatchNormalization in training mode)';
  const random = graph.model.graph.nodes.find((n) => /^Random|^Bernoulli$|^Multinomial$/.test(n.opType));
  if (random) return `its training step draws random values (${random.opType}, e.g. Dropout)`;
  return undefined;
}

/**
 * The whole batch's outputs from its shards' (each a mean over its rows): gradients and the loss
 * weighted by rows, correct counts summed, everything else (loss terms: the same in every shard)
 * from the first.
 */
export function combineShards(
  outs: Record<string, TensorValue>[],
  rows: number[],
  graph: TrainingGraph,
): Record<string, TensorValue> {
  if (outs.length === 1) return outs[0]!;
  const total = rows.reduce((a, b) => a + b, 0);
  const weights = rows.map((n) => n / total);
  const combined: Record<string, TensorValue> = { ...outs[0]! };
  const weighted = [...graph.update!.grads.values(), graph.loss];
  for (const name of weighted) {
    const first = outs[0]![name]!;
    const data = new (first.data.constructor as Float32ArrayConstructor)(first.data.length);
    const acc = new Float64Array(first.data.length);
    for (let k = 0; k < outs.length; k++) {
      const d = outs[k]![name]!.data as Float32Array;
      const w = weights[k]!;
      for (let i = 0; i < acc.length; i++) acc[i]! += w * d[i]!;
    }
    data.set(acc);
    combined[name] = { dtype: first.dtype, dims: first.dims, data };
  }
  if (graph.correct) {
    let sum = 0n;
    for (const o of outs) sum += BigInt(o[graph.correct]!.data[0] as bigint);
    combined[graph.correct] = { dtype: 'int64', dims: [], data: BigInt64Array.of(sum) };
  }
  return combined;
}
