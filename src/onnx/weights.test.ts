import { describe, expect, it } from 'vitest';
import type { Node } from './ir.ts';
import { computeLayout, inChannelAxis, outChannelAxis, weightedOps, weightLayout } from './weights.ts';

const node = (opType: string, attributes: Node['attributes'] = {}, domain = ''): Node => ({
  name: opType,
  opType,
  domain,
  inputs: ['x', 'w', 'b'],
  outputs: ['y'],
  attributes,
});

describe('weight layouts', () => {
  it('gives the output- and input-channel axes of each weighted op', () => {
    expect([outChannelAxis(node('Conv'), 4), inChannelAxis(node('Conv'), 4)]).toEqual([0, 1]);
    expect([outChannelAxis(node('ConvTranspose'), 4), inChannelAxis(node('ConvTranspose'), 4)]).toEqual([1, 0]);
    expect([outChannelAxis(node('Gemm'), 2), inChannelAxis(node('Gemm'), 2)]).toEqual([1, 0]);
    const transB = node('Gemm', { transB: { type: 'int', value: 1 } });
    expect([outChannelAxis(transB, 2), inChannelAxis(transB, 2)]).toEqual([0, 1]);
    expect([outChannelAxis(node('MatMul'), 3), inChannelAxis(node('MatMul'), 3)]).toEqual([2, 1]);
    expect(weightLayout(node('Gather'))).toEqual({ weight: 0, outAxis: 0 });
    expect(weightLayout(node('Conv'))?.bias).toBe(2);
    expect(weightLayout(node('MatMul'))?.bias).toBeUndefined();
  });

  it('knows nothing of other ops and other domains', () => {
    expect(weightLayout(node('Relu'))).toBeUndefined();
    expect(weightLayout(node('toString'))).toBeUndefined();
    expect(outChannelAxis(node('Conv', {}, 'com.microsoft'), 4)).toBeUndefined();
    expect(weightedOps().sort()).toEqual(['Conv', 'ConvTranspose', 'Gather', 'Gemm', 'MatMul']);
  });

  it("gives the integer, QLinear and fused forms their float op's layout, with the weight where it is", () => {
    const transB = { transB: { type: 'int', value: 1 } } as const;
    expect(computeLayout(node('Conv'))).toEqual({ weight: 1, outAxis: 0, inAxis: 1, bias: 2, like: 'Conv' });
    expect(computeLayout(node('ConvInteger'))).toEqual({ weight: 1, outAxis: 0, inAxis: 1, like: 'Conv' });
    expect(computeLayout(node('QLinearConv'))).toEqual({ weight: 3, outAxis: 0, inAxis: 1, like: 'Conv' });
    expect(computeLayout(node('MatMulInteger'))).toEqual({ weight: 1, outAxis: -1, inAxis: -2, like: 'MatMul' });
    expect(computeLayout(node('QLinearMatMul'))).toMatchObject({ weight: 3, inAxis: -2 });
    expect(computeLayout(node('QGemm', {}, 'com.microsoft'))).toMatchObject({ weight: 3, outAxis: 1, inAxis: 0 });
    expect(computeLayout(node('QGemm', transB, 'com.microsoft'))).toMatchObject({ weight: 3, outAxis: 0, inAxis: 1 });
    // FusedMatMul with transB: B is [..., N, K]
    expect(computeLayout(node('FusedMatMul', transB, 'com.microsoft'))).toMatchObject({ outAxis: -2, inAxis: -1 });
    // forms are not rewritten by the passes, and other domains' ops are not forms
    expect(weightLayout(node('MatMulInteger'))).toBeUndefined();
    expect(computeLayout(node('QGemm'))).toBeUndefined();
    expect(computeLayout(node('Relu'))).toBeUndefined();
  });
});
