/**
 * upgradeOpset: each rewritten signature computes on onnxruntime what the original model computes
 * at its own opset, and ops whose meaning changed in a way it cannot express are refused.
 */
import { describe, expect, test } from 'vitest';
import { float, GraphBuilder, makeModel } from '../../src/onnx/builder.ts';
import { defaultOpset, type Model } from '../../src/onnx/ir.ts';
import { upgradeOpset } from '../../src/onnx/opset-upgrade.ts';
import { Session } from '../../src/runtime/session.ts';
import type { TensorValue } from '../../src/runtime/tensor.ts';

const X_DIMS = [2, 3, 4];
const X: TensorValue = {
  dtype: 'float32',
  dims: X_DIMS,
  data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 3),
};

async function run(m: Model): Promise<Record<string, TensorValue>> {
  const s = await Session.create(m, { threads: 1 });
  try {
    return await s.run({ x: X });
  } finally {
    await s.release();
  }
}

/** A model over x [2,3,4] at `opset` whose outputs are built by `body`. */
function model(opset: number, body: (g: GraphBuilder) => string[]): Model {
  const g = new GraphBuilder();
  g.input('x', 'float32', X_DIMS);
  for (const o of body(g)) g.output(o, 'float32');
  return makeModel(g.graph, { opset, irVersion: 7 });
}

const CASES: [string, number, (g: GraphBuilder) => string[]][] = [
  [
    'Squeeze/Unsqueeze/ReduceSum axes attributes (opset 11)',
    11,
    (g) => {
      const u = g.op('Unsqueeze', ['x'], { axes: [0, 3] });
      return [g.op('Squeeze', [u], { axes: [0] }), g.op('ReduceSum', ['x'], { axes: [1], keepdims: 0 })];
    },
  ],
  [
    'Split with a split attribute (opset 11)',
    11,
    (g) => g.node('Split', ['x'], { axis: 2, split: [1, 3] }, { outputs: 2 }),
  ],
  ['Split into equal parts (opset 13)', 13, (g) => g.node('Split', ['x'], { axis: 2 }, { outputs: 2 })],
  [
    'ReduceMean/ReduceMax/ReduceL2 axes attributes (opset 13)',
    13,
    (g) => [
      g.op('ReduceMean', ['x'], { axes: [2], keepdims: 1 }),
      g.op('ReduceMax', ['x'], { axes: [0, 2] }),
      g.op('ReduceL2', ['x']),
    ],
  ],
  [
    'flattening Softmax and LogSoftmax on rank 3 (opset 11)',
    11,
    (g) => [g.op('Softmax', ['x'], { axis: 1 }), g.op('LogSoftmax', ['x'])],
  ],
  [
    'Slice, Clip, Pad and TopK with attributes (opset 9)',
    9,
    (g) => [
      g.op('Slice', ['x'], { starts: [1, 0], ends: [3, -1], axes: [1, 2] }),
      g.op('Clip', ['x'], { min: float(-1), max: float(0.5) }),
      g.op('Pad', ['x'], { pads: [0, 1, 0, 0, 0, 2], value: float(0.25) }),
      g.node('TopK', ['x'], { k: 2, axis: 2 }, { outputs: 2 })[0]!,
    ],
  ],
  ['Dropout with a ratio attribute (opset 10)', 10, (g) => [g.op('Dropout', ['x'], { ratio: float(0.3) })]],
];

describe('upgradeOpset', () => {
  test.each(CASES)('%s: same outputs at opset 18', async (_label, opset, body) => {
    const m = model(opset, body);
    const up = upgradeOpset(m, 18);
    expect(defaultOpset(up)).toBe(18);
    expect(up.irVersion).toBeGreaterThanOrEqual(8);
    expect(defaultOpset(m)).toBe(opset); // pure: the input is untouched
    const [want, got] = [await run(m), await run(up)];
    for (const o of m.graph.outputs) {
      expect(got[o.name]!.dims, o.name).toEqual(want[o.name]!.dims);
      const a = got[o.name]!.data as Float32Array;
      const b = want[o.name]!.data as Float32Array;
      for (let i = 0; i < a.length; i++) expect(a[i], `${o.name}[${i}]`).toBeCloseTo(b[i]!, 6);
    }
  });

  test('a model at or above the target is returned as it is', () => {
    const m = model(18, (g) => [g.op('Relu', ['x'])]);
    expect(upgradeOpset(m, 13)).toBe(m);
    expect(upgradeOpset(m, 18)).toBe(m);
  });

  test('ops whose meaning changed in a way it cannot express are refused with one line', () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', [1, 1, 2, 2]);
    const scales = g.constFloat([1, 1, 2, 2], [4], 'scales');
    g.output(g.op('Upsample', ['x', scales], { mode: 'nearest' }), 'float32');
    const m = makeModel(g.graph, { opset: 9, irVersion: 7 });
    expect(() => upgradeOpset(m, 18)).toThrow(/E_UNSUPPORTED|Upsample node .*cannot raise opset 9 to 18/);
    try {
      upgradeOpset(m, 18);
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_UNSUPPORTED');
      expect(String((e as Error).message)).not.toContain('\n');
    }
  });
});
