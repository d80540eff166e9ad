/**
 * lowerForTraining on imported models whose node and value names look like the names
 * GraphBuilder generates ('sub', 'Mul_node', ...): the rewrites must not reuse them, and
 * Constant nodes must still be visible to the rules.
 */
import { describe, expect, test } from 'vitest';
import { makeModel, makeTensor, tensorValueInfo } from '../onnx/builder.ts';
import { emptyGraph, type Model, type Node } from '../onnx/ir.ts';
import { Session } from '../runtime/session.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import { buildGradientModel, lowerForTraining } from './autodiff.ts';
import { TrainingSession } from './session.ts';
import { inferValueShapes } from './shapes.ts';

const C = 3;
const X: TensorValue = {
  dtype: 'float32',
  dims: [2, C, 2, 2],
  data: Float32Array.from({ length: 2 * C * 4 }, (_, i) => Math.sin(i * 0.7) + 0.1 * i),
};

/**
 * x → Relu → BatchNormalization → Mul(bn, bn) → Add(·, relu) → Identity → y, every node and
 * intermediate value named `${p}…`. With p = '' the names are exactly what the builder hands out
 * for the ops BatchNormalization's training rewrite emits (sub, mul, add, Sub_node, ...).
 */
function bnModel(p: string): Model {
  const g = emptyGraph();
  g.inputs.push(tensorValueInfo('x', 'float32', ['N', C, 2, 2]));
  g.outputs.push(tensorValueInfo('y', 'float32', ['N', C, 2, 2]));
  g.initializers.push(
    makeTensor('scale', 'float32', [C], [1.5, 0.5, -1]),
    makeTensor('bias', 'float32', [C], [0.1, -0.2, 0.3]),
    makeTensor('running_mean', 'float32', [C], [0, 0, 0]),
    makeTensor('running_var', 'float32', [C], [1, 1, 1]),
  );
  const node = (opType: string, name: string, inputs: string[], output: string): Node => ({
    name: p + name,
    opType,
    domain: '',
    inputs,
    outputs: [output],
    attributes: {},
  });
  g.nodes.push(
    node('Relu', 'Sub_node', ['x'], `${p}sub`),
    node('BatchNormalization', 'Div_node', [`${p}sub`, 'scale', 'bias', 'running_mean', 'running_var'], `${p}div`),
    node('Mul', 'Mul_node', [`${p}div`, `${p}div`], `${p}mul`),
    node('Add', 'Add_node', [`${p}mul`, `${p}sub`], `${p}add`),
    node('Identity', 'Reshape_node', [`${p}add`], 'y'),
  );
  return makeModel(g, { opset: 17 });
}

/** Every node name unique; every value produced by exactly one node and never also a graph input or initializer. */
function expectWellFormed(m: Model): void {
  const names = m.graph.nodes.map((n) => n.name);
  expect(
    names.filter((n, i) => names.indexOf(n) !== i),
    'duplicate node names',
  ).toEqual([]);
  const produced = m.graph.nodes.flatMap((n) => n.outputs.filter(Boolean));
  expect(
    produced.filter((n, i) => produced.indexOf(n) !== i),
    'values produced twice',
  ).toEqual([]);
  const sources = new Set([...m.graph.inputs.map((v) => v.name), ...m.graph.initializers.map((t) => t.name)]);
  expect(
    produced.filter((n) => sources.has(n)),
    'values shadowing inputs/initializers',
  ).toEqual([]);
}

describe('lowerForTraining with names like the generated ones', () => {
  test('the lowered graph defines every name once', async () => {
    const model = bnModel('');
    const { model: lowered, stateUpdates } = lowerForTraining(model, inferValueShapes(model));
    expectWellFormed(lowered);
    expect([...stateUpdates.keys()].sort()).toEqual(['running_mean', 'running_var']);
    // the untouched nodes keep their names, the rewritten BatchNormalization is gone
    expect(lowered.graph.nodes.map((n) => n.name)).toEqual(
      expect.arrayContaining(['Sub_node', 'Mul_node', 'Add_node']),
    );
    expect(lowered.graph.nodes.some((n) => n.opType === 'BatchNormalization')).toBe(false);
  });

  test('gradients and a training step equal those of the same model with other names', async () => {
    const wrt = ['x', 'scale', 'bias'];
    const results: Record<string, TensorValue>[] = [];
    for (const p of ['', 'imported/']) {
      const gm = await buildGradientModel(bnModel(p), wrt);
      const seed = gm.seedInputs.get('y')!;
      const s = await Session.create(gm.model, { threads: 1 });
      try {
        const dy: TensorValue = {
          dtype: 'float32',
          dims: X.dims,
          data: Float32Array.from({ length: X.data.length }, (_, i) => Math.cos(i)),
        };
        results.push(await s.run({ x: X, [seed.input]: dy }, ['y', ...wrt.map((w) => gm.gradOutputs.get(w)!)]));
      } finally {
        await s.release();
      }
    }
    const [a, b] = results.map((r) => Object.values(r).map((t) => Array.from(t.data as Float32Array)));
    expect(a!.length).toBe(1 + wrt.length);
    a!.forEach((t, i) => {
      expect(t.length).toBeGreaterThan(0);
      expect(t.some((v) => v !== 0)).toBe(true);
      t.forEach((v, j) => expect(v).toBeCloseTo(b![i]![j]!, 5));
    });

    const losses: number[] = [];
    for (const p of ['', 'imported/']) {
      const ts = await TrainingSession.create(bnModel(p), {
        loss: 'mse',
        optimizer: { kind: 'sgd', lr: 0.1 },
        threads: 1,
      });
      try {
        const target: TensorValue = { dtype: 'float32', dims: X.dims, data: new Float32Array(X.data.length) };
        await ts.step({ x: X }, target);
        losses.push((await ts.step({ x: X }, target)).loss);
      } finally {
        await ts.release();
      }
    }
    expect(losses[0]).toBeCloseTo(losses[1]!, 5);
  });

  test('a Dropout ratio given by a Constant node is read', async () => {
    const g = emptyGraph();
    g.inputs.push(tensorValueInfo('x', 'float32', [2, 8]));
    g.outputs.push(tensorValueInfo('y', 'float32', [2, 8]));
    g.initializers.push(
      makeTensor(
        'w',
        'float32',
        [8, 8],
        Float32Array.from({ length: 64 }, (_, i) => (i % 9) * 0.1),
      ),
    );
    g.nodes.push(
      {
        name: 'ratio_const',
        opType: 'Constant',
        domain: '',
        inputs: [],
        outputs: ['ratio'],
        attributes: { value: { type: 'tensor', value: makeTensor('ratio', 'float32', [], [0.25]) } },
      },
      { name: 'mm', opType: 'MatMul', domain: '', inputs: ['x', 'w'], outputs: ['h'], attributes: {} },
      { name: 'drop', opType: 'Dropout', domain: '', inputs: ['h', 'ratio'], outputs: ['y'], attributes: {} },
    );
    const model = makeModel(g, { opset: 17 });
    const { model: lowered } = lowerForTraining(model, inferValueShapes(model));
    expectWellFormed(lowered);
    expect(lowered.graph.nodes.some((n) => n.opType === 'Dropout')).toBe(false);
    // the keep-mask is scaled by 1 / (1 - 0.25)
    const scales = lowered.graph.initializers
      .filter((t) => t.dims.length === 0)
      .map((t) => (t.data as Float32Array)[0]!);
    expect(scales.some((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(scales.some((v) => Math.abs(v - 0.75) < 1e-6)).toBe(true);
  });
});
