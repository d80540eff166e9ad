import { describe, expect, it } from 'vitest';
import type { Node } from './ir.ts';
import { inChannelAxis, outChannelAxis, weightedOps, weightLayout } from './weights.ts';

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
});
