/**
 * Weight layouts: which input of an op is its weight, which axis of that weight holds the output
 * channels (units) and which the input channels (the contracted length), and which input is the
 * per-output-channel bias. The one table every pass that scales, slices or quantizes weights per
 * channel reads (quantizers, QAT, structured pruning, BatchNorm folding, head replacement).
 * Adding a weighted op = adding its row here.
 */
import { isDefaultDomain, type Node } from './ir.ts';

export interface WeightLayout {
  /** Input index of the weight. */
  weight: number;
  /** Axis of the weight holding output channels / units (negative counts from the end). */
  outAxis: number;
  /** Axis holding input channels / the contracted length, when the op has one. */
  inAxis?: number;
  /** Input index of the per-output-channel bias, when the op has one. */
  bias?: number;
}

function transB(n: Node): boolean {
  const a = n.attributes['transB'];
  return a?.type === 'int' && a.value !== 0;
}

const LAYOUTS: Readonly<Record<string, (n: Node) => Readonly<WeightLayout>>> = Object.freeze({
  // W: [M, C/group, k...]
  Conv: () => ({ weight: 1, outAxis: 0, inAxis: 1, bias: 2 }),
  // W: [C, M/group, k...]
  ConvTranspose: () => ({ weight: 1, outAxis: 1, inAxis: 0, bias: 2 }),
  // B: [K, N], or [N, K] with transB
  Gemm: (n) =>
    transB(n) ? { weight: 1, outAxis: 0, inAxis: 1, bias: 2 } : { weight: 1, outAxis: 1, inAxis: 0, bias: 2 },
  // B: [..., K, N]
  MatMul: () => ({ weight: 1, outAxis: -1, inAxis: -2 }),
  // an embedding table: one row per id
  Gather: () => ({ weight: 0, outAxis: 0 }),
});

/** The weight layout of a default-domain node, or undefined for ops without a weight. */
export function weightLayout(n: Node): Readonly<WeightLayout> | undefined {
  if (!isDefaultDomain(n.domain)) return undefined;
  return Object.hasOwn(LAYOUTS, n.opType) ? LAYOUTS[n.opType]!(n) : undefined;
}

/** Ops with a row in the table. */
export function weightedOps(): string[] {
  return Object.keys(LAYOUTS);
}

/** An axis of the layout resolved for a weight of `rank` dims. */
export function layoutAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** The output-channel axis of `n`'s weight when it has `rank` dims; undefined for ops without a weight. */
export function outChannelAxis(n: Node, rank: number): number | undefined {
  const l = weightLayout(n);
  return l && layoutAxis(l.outAxis, rank);
}

/** The input-channel (contracted) axis of `n`'s weight when it has `rank` dims; undefined when it has none. */
export function inChannelAxis(n: Node, rank: number): number | undefined {
  const l = weightLayout(n);
  return l?.inAxis === undefined ? undefined : layoutAxis(l.inAxis, rank);
}
