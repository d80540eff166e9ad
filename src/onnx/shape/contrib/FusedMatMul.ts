import type { Dim } from '../../ir.ts';
import { matmulShape } from '../matmul.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

function transposeLast(s: Dim[] | undefined, on: boolean): Dim[] | undefined {
  if (!s || !on || s.length < 2) return s;
  return [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
}

/** com.microsoft FusedMatMul: alpha * op(A) op(B) with transA/transB on the last two dims. */
export const FusedMatMul: ShapeRule = {
  op: 'FusedMatMul',
  domain: 'com.microsoft',
  infer: (ctx) => {
    const dtype = ctx.dtype(0) ?? ctx.dtype(1);
    if (!dtype) return undefined;
    const a = transposeLast(ctx.shape(0), ctx.int('transA', 0) === 1);
    const b = transposeLast(ctx.shape(1), ctx.int('transB', 0) === 1);
    return tensorType(dtype, matmulShape(a, b));
  },
};
