import { describe, expect, it } from 'vitest';
import { weightLayout } from '../../onnx/index.ts';
import { DYNAMIC_QUANTIZABLE_OPS } from './dynamic.ts';
import { QUANTIZABLE_OPS, opsWithRole } from './ops.ts';
import { STATIC_QUANTIZABLE_OPS } from './static.ts';

describe('quantizable-op records', () => {
  it('list every op the quantizers rewrite, once, with its role', () => {
    expect(Object.fromEntries(QUANTIZABLE_OPS.map((r) => [r.op, `${r.static}${r.dynamic ? '+dynamic' : ''}`]))).toEqual(
      {
        Conv: 'weighted+dynamic',
        Gemm: 'weighted+dynamic',
        MatMul: 'weighted+dynamic',
        Add: 'arithmetic',
        Mul: 'arithmetic',
        AveragePool: 'arithmetic',
        GlobalAveragePool: 'arithmetic',
        Concat: 'arithmetic',
        MaxPool: 'pass-through',
        Reshape: 'pass-through',
        Flatten: 'pass-through',
        Transpose: 'pass-through',
        Squeeze: 'pass-through',
        Unsqueeze: 'pass-through',
        Relu: 'activation',
        Clip: 'activation',
      },
    );
    expect(new Set(QUANTIZABLE_OPS.map((r) => r.op)).size).toBe(QUANTIZABLE_OPS.length);
    expect([...STATIC_QUANTIZABLE_OPS].sort()).toEqual(QUANTIZABLE_OPS.map((r) => r.op).sort());
    expect([...DYNAMIC_QUANTIZABLE_OPS].sort()).toEqual(['Conv', 'Gemm', 'MatMul']);
    expect(Object.isFrozen(QUANTIZABLE_OPS) && Object.isFrozen(QUANTIZABLE_OPS[0])).toBe(true);
  });

  it('every weighted op has a weight layout in onnx/weights.ts', () => {
    for (const op of opsWithRole('weighted')) {
      const layout = weightLayout({ name: op, opType: op, domain: '', inputs: [], outputs: [], attributes: {} });
      expect(layout, op).toBeDefined();
    }
  });
});
