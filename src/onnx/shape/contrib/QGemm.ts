import { tensorType, type ShapeRule } from '../rule.ts';

/** com.microsoft QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp): Gemm's [M, N]; y_zp's type, else float32. */
export const QGemm: ShapeRule = {
  op: 'QGemm',
  domain: 'com.microsoft',
  infer: (ctx) => {
    const a = ctx.shape(0);
    const b = ctx.shape(3);
    const m = a && a.length === 2 ? a[ctx.int('transA', 0) ? 1 : 0]! : null;
    const n = b && b.length === 2 ? b[ctx.int('transB', 0) ? 0 : 1]! : null;
    return tensorType(ctx.dtype(8) ?? 'float32', [m, n]);
  },
};
