import { tensorType, type ShapeRule } from '../rule.ts';

/** Gemm: Y = alpha * A' B' + beta * C with A' = transA ? Aᵀ : A: [M, N]. */
export const Gemm: ShapeRule = {
  op: 'Gemm',
  infer: (ctx) => {
    const dtype = ctx.dtype(0) ?? ctx.dtype(1);
    if (!dtype) return undefined;
    const a = ctx.shape(0);
    const b = ctx.shape(1);
    const m = a && a.length === 2 ? a[ctx.int('transA', 0) ? 1 : 0]! : null;
    const n = b && b.length === 2 ? b[ctx.int('transB', 0) ? 0 : 1]! : null;
    return tensorType(dtype, [m, n]);
  },
};
