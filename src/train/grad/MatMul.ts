import type { GradRule } from './rule.ts';
import type { GradContext } from './rule.ts';
import type { ValueShape } from '../shapes.ts';

/**
 * Batched, broadcasting MatMul. The common case — a 2-D weight B against a batched A — flattens
 * the batch dims and uses one Gemm with transpose flags for dB (one big GEMM instead of a batched
 * product plus a reduction). 1-D operands are promoted as numpy does and squeezed back.
 */
export const MatMul: GradRule = {
  op: 'MatMul',
  grad: (c) => {
    const a = c.input(0);
    const b = c.input(1);
    const ra = c.rank(a);
    const rb = c.rank(b);
    let dy = c.dy();
    const sy = c.shape(c.output(0));
    if (ra >= 2 && rb === 2) return weightCase(c, a, b, dy, ra);
    // General path: promote 1-D operands, batched MatMuls with transposed copies, then reduce.
    let A = a;
    let B = b;
    let ySh: ValueShape = sy;
    if (ra === 1) {
      A = c.op('Unsqueeze', [a, c.ints([0])]);
      dy = c.op('Unsqueeze', [dy, c.ints([-2])]);
      ySh = insertDim(ySh, ySh.dims.length - (rb === 1 ? 0 : 1));
    }
    if (rb === 1) {
      B = c.op('Unsqueeze', [b, c.ints([-1])]);
      dy = c.op('Unsqueeze', [dy, c.ints([-1])]);
      ySh = insertDim(ySh, ySh.dims.length);
    }
    const rA = Math.max(ra, 2);
    const rB = Math.max(rb, 2);
    const swap = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
    let dA: string | undefined, dB: string | undefined;
    if (c.needsGrad(0)) {
      let d = c.op('MatMul', [dy, c.op('Transpose', [B], { perm: swap(rB) })]);
      d = reduceBatch(c, d, ySh, rA, a, ra);
      dA = ra === 1 ? c.op('Reshape', [d, c.ints([-1])]) : d;
    }
    if (c.needsGrad(1)) {
      let d = c.op('MatMul', [c.op('Transpose', [A], { perm: swap(rA) }), dy]);
      d = reduceBatch(c, d, ySh, rB, b, rb);
      dB = rb === 1 ? c.op('Reshape', [d, c.ints([-1])]) : d;
    }
    return [dA, dB];
  },
};

function insertDim(s: ValueShape, at: number): ValueShape {
  const dims = [...s.dims];
  const dynamic = [...s.dynamic];
  dims.splice(at, 0, 1);
  dynamic.splice(at, 0, false);
  return { dtype: s.dtype, dims, dynamic };
}

/** Sum a batched gradient [..., m, n] over the batch dims the operand was broadcast along. */
function reduceBatch(
  c: GradContext,
  d: string,
  ySh: ValueShape,
  rOperand: number,
  operand: string,
  rawRank: number,
): string {
  const ry = ySh.dims.length;
  const lead = ry - rOperand;
  const axes: number[] = Array.from({ length: lead }, (_, i) => i);
  if (rawRank >= 2) {
    const so = c.shape(operand);
    for (let i = 0; i < rOperand - 2; i++) {
      if (so.dims[i] === 1 && !so.dynamic[i] && !(ySh.dims[lead + i] === 1 && !ySh.dynamic[lead + i]))
        axes.push(lead + i);
    }
  }
  if (axes.length === 0) return d;
  let r = c.op('ReduceSum', [d, c.ints(axes)], { keepdims: 1 });
  if (lead > 0) r = c.op('Squeeze', [r, c.ints(Array.from({ length: lead }, (_, i) => i))]);
  return r;
}

/** A [..., K] @ W [K, N]: dA = dY @ Wᵀ (Gemm on flattened rows), dW = Aᵀ·dY over all rows. */
function weightCase(c: GradContext, a: string, w: string, dy: string, ra: number): (string | undefined)[] {
  const [k, n] = c.dims(w) as [number, number];
  let dA: string | undefined, dW: string | undefined;
  if (ra === 2) {
    if (c.needsGrad(0)) dA = c.op('Gemm', [dy, w], { transB: 1 });
    if (c.needsGrad(1)) dW = c.op('Gemm', [a, dy], { transA: 1 });
    return [dA, dW];
  }
  if (c.needsGrad(0)) dA = c.op('MatMul', [dy, c.op('Transpose', [w], { perm: [1, 0] })]);
  if (c.needsGrad(1)) {
    const a2 = c.op('Reshape', [a, c.ints([-1, k])]);
    const dy2 = c.op('Reshape', [dy, c.ints([-1, n])]);
    dW = c.op('Gemm', [a2, dy2], { transA: 1 });
  }
  return [dA, dW];
}
