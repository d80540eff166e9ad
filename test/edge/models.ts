/**
 * Models for edge tests: the PyTorch-exported seed CNN fixture, and small graphs built here with
 * the verge builder (a model that loads but fails on every request, for health-gate faults).
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { GraphBuilder, makeModel } from '../../src/onnx/builder.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { fixturePath } from '../fixtures/index.ts';

export function seedCnnBytes(): Uint8Array {
  return readFileSync(fixturePath('seed_cnn'));
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Same interface as the seed CNN ([batch,1,28,28] → [batch,10]) but its Reshape asks for 15
 * values per sample, so it loads and then fails at run time on every request: a bad release.
 */
export function failingModelBytes(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('input', 'float32', ['batch', 1, 28, 28]);
  const shape = g.constInt64([-1, 15]);
  const r = g.op('Reshape', [x, shape]);
  const w = g.constFloat(new Array(15 * 10).fill(0.01), [15, 10]);
  const y = g.op('MatMul', [r, w], {}, { output: 'output' });
  g.output(y, 'float32', ['batch', 10]);
  return encodeModel(makeModel(g.graph, { opset: 13 }));
}

/** A tiny valid model with the seed CNN's interface: mean pooling then a fixed 1×10 projection. */
export function tinyModelBytes(scale = 1): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('input', 'float32', ['batch', 1, 28, 28]);
  const flat = g.op('Flatten', [x], { axis: 1 });
  const w = g.constFloat(
    Array.from({ length: 784 * 10 }, (_, i) => ((i % 10) + 1) * scale * 1e-3),
    [784, 10],
  );
  const y = g.op('MatMul', [flat, w], {}, { output: 'output' });
  g.output(y, 'float32', ['batch', 10]);
  return encodeModel(makeModel(g.graph, { opset: 13 }));
}
