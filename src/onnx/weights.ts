/**
 * Weight layouts: which input of an op is its weight, which axis of that weight holds the output
 * channels (units) and which the input channels (the contracted length), and which input is the
 * per-output-channel bias. The one table every pass that scales, slices or quantizes weights per
 * channel reads (quantizers, QAT, structured pruning, BatchNorm folding, head replacement).
 * Adding a weighted op = adding its row here. The integer, QLinear and fused forms of these ops
 * (FORMS) keep their float op's layout with the weight at another input; modelInfo reads their
 * contracted length for MACs, and dynamic quantization the axis of the weight it emits.
 */
import { deepFreeze } from '../frozen.ts';
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
  // B: [..., K, N], or [..., N, K] with transB (com.microsoft FusedMatMul, through FORMS)
  MatMul: (n) => (transB(n) ? { weight: 1, outAxis: -2, inAxis: -1 } : { weight: 1, outAxis: -1, inAxis: -2 }),
  // an embedding table: one row per id
  Gather: () => ({ weight: 0, outAxis: 0 }),
});

/** The float op a form computes as (its row of LAYOUTS), and the input holding its weight. */
export interface WeightForm {
  like: 'Conv' | 'Gemm' | 'MatMul';
  weight: number;
}

/**
 * Integer, QLinear and com.microsoft fused forms of the table's ops, by op type (`domain:op` outside
 * the default domain). verge's passes do not rewrite them (weightLayout leaves them out).
 */
const FORMS: Readonly<Record<string, Readonly<WeightForm>>> = deepFreeze({
  ConvInteger: { like: 'Conv', weight: 1 },
  QLinearConv: { like: 'Conv', weight: 3 },
  'com.microsoft:FusedConv': { like: 'Conv', weight: 1 },
  MatMulInteger: { like: 'MatMul', weight: 1 },
  QLinearMatMul: { like: 'MatMul', weight: 3 },
  'com.microsoft:FusedMatMul': { like: 'MatMul', weight: 1 },
  'com.microsoft:DynamicQuantizeMatMul': { like: 'MatMul', weight: 1 },
  'com.microsoft:MatMulIntegerToFloat': { like: 'MatMul', weight: 1 },
  'com.microsoft:FusedGemm': { like: 'Gemm', weight: 1 },
  'com.microsoft:QGemm': { like: 'Gemm', weight: 3 },
});

/** The weight layout of a default-domain node, or undefined for ops without a weight. */
export function weightLayout(n: Node): Readonly<WeightLayout> | undefined {
  if (!isDefaultDomain(n.domain)) return undefined;
  return Object.hasOwn(LAYOUTS, n.opType) ? LAYOUTS[n.opType]!(n) : undefined;
}

/**
 * The layout of any op that multiplies by a weight: the table's ops and their forms (FORMS), with
 * `like`, the float op it computes as. A form's bias input is not given (each form puts it
 * elsewhere; nothing reads it).
 */
export function computeLayout(n: Node): (Readonly<WeightLayout> & { like: string }) | undefined {
  const own = weightLayout(n);
  if (own) return { ...own, like: n.opType };
  const key = isDefaultDomain(n.domain) ? n.opType : `${n.domain}:${n.opType}`;
  const form = Object.hasOwn(FORMS, key) ? FORMS[key]! : undefined;
  if (!form) return undefined;
  const { weight: _w, bias: _b, ...axes } = LAYOUTS[form.like]!(n);
  return { ...axes, weight: form.weight, like: form.like };
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
