/**
 * Lowered GRU/LSTM models (src/train/lower rewrites them into MatMul, Sigmoid, Tanh, Slice, …)
 * differentiate with the primitive rules: finite-difference check through the whole unrolled
 * cell, and a PyTorch-exported GRU classifier fixture that trains (loss falls on a fixed batch).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { rng } from '../data/dataset.ts';
import { GraphBuilder, makeModel } from '../onnx/builder.ts';
import { loadModel } from '../onnx/io.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import { assertGradients } from './gradcheck.ts';
import { lowerRecurrentFor } from './lower/parameters.ts';
import { TrainingSession } from './session.ts';

const GRU_FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/models/gru_classifier.onnx');

function rand(n: number, seed: number, scale = 0.5): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

describe('recurrent models after lowering', () => {
  for (const cell of ['GRU', 'LSTM'] as const) {
    test(`${cell}: finite-difference check of the lowered cell (W, R, B, X)`, async () => {
      const [T, B, I, H] = [3, 2, 3, 4];
      const G = cell === 'GRU' ? 3 : 4;
      const g = new GraphBuilder();
      g.input('X', 'float32', [T, B, I]);
      const w = g.initializer('W', 'float32', [1, G * H, I], rand(G * H * I, 1));
      const r = g.initializer('R', 'float32', [1, G * H, H], rand(G * H * H, 2));
      const b = g.initializer('B', 'float32', [1, 2 * G * H], rand(2 * G * H, 3));
      const [, yh] = g.node(cell, ['X', w, r, b], { hidden_size: H }, { outputs: 2 });
      g.output(yh!, 'float32', [1, B, H]);
      const x: TensorValue = { dtype: 'float32', dims: [T, B, I], data: rand(T * B * I, 4, 1) };
      const lowered = await lowerRecurrentFor(makeModel(g.graph), { X: x });
      expect(lowered.graph.nodes.some((n) => n.opType === cell)).toBe(false);
      await assertGradients(lowered, { X: x }, ['X', 'W', 'R', 'B'], { maxElements: 12 });
    });
  }

  test.skipIf(!existsSync(GRU_FIXTURE))('PyTorch GRU classifier fixture trains on a fixed batch', async () => {
    const source = loadModel(GRU_FIXTURE);
    const input = source.graph.inputs[0]!;
    const shape = input.type?.kind === 'tensor' ? input.type.shape! : [];
    const dims = shape.map((d) => (typeof d === 'number' ? d : 8));
    const n = dims.reduce((a, b) => a * b, 1);
    const x: TensorValue = { dtype: 'float32', dims, data: rand(n, 5, 1) };
    const model = await lowerRecurrentFor(source, { [input.name]: x });
    const s = await TrainingSession.create(model, {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-2 },
      threads: 1,
    });
    const batch = dims[0]!;
    const labels: TensorValue = {
      dtype: 'int32',
      dims: [batch],
      data: Int32Array.from({ length: batch }, (_, i) => i % 2),
    };
    const first = await s.step({ [input.name]: x }, labels);
    let last = first;
    for (let i = 0; i < 15; i++) last = await s.step({ [input.name]: x }, labels);
    expect(last.loss).toBeLessThan(first.loss * 0.7);
    await s.release();
  });
});
