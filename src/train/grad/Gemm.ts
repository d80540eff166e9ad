import type { GradRule } from './rule.ts';

/**
 * Y = α·A'·B' + β·C (A' = transA ? Aᵀ : A). Each gradient is one Gemm with transpose flags,
 * so no transposed copy of A, B or dY is ever materialized.
 */
export const Gemm: GradRule = {
  op: 'Gemm',
  grad: (c) => {
    const [a, b] = [c.input(0), c.input(1)];
    const tA = c.attrInt('transA', 0);
    const tB = c.attrInt('transB', 0);
    const alpha = c.attrFloat('alpha', 1);
    const beta = c.attrFloat('beta', 1);
    const dy = c.dy();
    const gemm = (x: string, y: string, transA: number, transB: number) =>
      c.op('Gemm', [x, y], { transA, transB, alpha: alpha === 1 ? undefined : { type: 'float', value: alpha } });
    let dA: string | undefined, dB: string | undefined, dC: string | undefined;
    if (c.needsGrad(0)) dA = tA ? gemm(b, dy, tB, 1) : gemm(dy, b, 0, tB ? 0 : 1);
    if (c.needsGrad(1)) dB = tB ? gemm(dy, a, 1, tA) : gemm(a, dy, tA ? 0 : 1, 0);
    if (c.has(2) && c.needsGrad(2)) {
      const summed = c.sumToShape(dy, c.input(2));
      dC = beta === 1 ? summed : c.op('Mul', [summed, c.scalar(beta)]);
    }
    return [dA, dB, dC];
  },
};
