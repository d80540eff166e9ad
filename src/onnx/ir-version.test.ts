import { describe, expect, it } from 'vitest';
import { GraphBuilder, makeModel } from './builder.ts';
import { irVersionForOpset } from './ir.ts';
import { minimumIrVersion, withMinimumIrVersion } from './ir-version.ts';

/** y = x + c, c an initializer (not a graph input: IR ≥ 4). */
function addConst(opset: number, dtype: 'float32' | 'float8e4m3fn' | 'int4' = 'float32') {
  const g = new GraphBuilder();
  g.input('x', 'float32', [2]);
  const c = g.initializer('c', dtype, [2], dtype === 'float32' ? [1, 2] : new Uint8Array(dtype === 'int4' ? 1 : 2));
  g.output(g.op('Add', ['x', dtype === 'float32' ? c : g.op('Cast', [c], { to: 1 })]), 'float32', [2]);
  return makeModel(g.graph, { opset });
}

describe('minimumIrVersion', () => {
  it("follows ONNX's release table for the default-domain opset", () => {
    expect([7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23].map(irVersionForOpset)).toEqual([
      3, 3, 4, 5, 6, 7, 7, 7, 8, 8, 8, 9, 9, 10, 10, 11,
    ]);
  });

  it('takes the larger of the opset and the features the model uses', () => {
    expect(minimumIrVersion(addConst(17))).toBe(8);
    expect(minimumIrVersion(addConst(21))).toBe(10);
    expect(minimumIrVersion(addConst(7))).toBe(4); // initializer that is not a graph input
    expect(minimumIrVersion(addConst(17, 'float8e4m3fn'))).toBe(9);
    expect(minimumIrVersion(addConst(17, 'int4'))).toBe(10);
    const m = { ...addConst(13), irVersion: 10 };
    const low = withMinimumIrVersion(m);
    expect(low.irVersion).toBe(7);
    expect(m.irVersion).toBe(10); // the input is not changed
    expect(low.graph).toBe(m.graph);
  });
});
