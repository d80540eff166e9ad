/**
 * Small models built with GraphBuilder for runtime, CLI and benchmark use: the seed CNN of
 * DESIGN.md (random weights), an identity over every dtype onnxruntime-node takes, a two-input
 * model, and a model with an op type no runtime knows.
 */
import { GraphBuilder, makeModel, type Model } from '../../src/onnx/index.ts';
import type { DType } from '../../src/onnx/dtype.ts';
import type { Dim } from '../../src/onnx/ir.ts';

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weights(n: number, fanIn: number, next: () => number): Float32Array {
  const w = new Float32Array(n);
  const scale = Math.sqrt(2 / fanIn);
  for (let i = 0; i < n; i++) w[i] = (next() * 2 - 1) * scale;
  return w;
}

/** conv 32×3×3 ReLU, maxpool 2, conv 64×3×3 ReLU, maxpool 2, flatten, dense 64 ReLU, dense 10; input [batch,1,28,28]. */
export function seedCnn(batch: Dim = 'batch', seed = 1): Model {
  const next = seeded(seed);
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [batch, 1, 28, 28]);
  const w1 = g.initializer('conv1.w', 'float32', [32, 1, 3, 3], weights(32 * 9, 9, next));
  const b1 = g.initializer('conv1.b', 'float32', [32]);
  let h = g.op('Relu', [g.op('Conv', [x, w1, b1], { kernel_shape: [3, 3] })]);
  h = g.op('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  const w2 = g.initializer('conv2.w', 'float32', [64, 32, 3, 3], weights(64 * 32 * 9, 32 * 9, next));
  const b2 = g.initializer('conv2.b', 'float32', [64]);
  h = g.op('Relu', [g.op('Conv', [h, w2, b2], { kernel_shape: [3, 3] })]);
  h = g.op('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  h = g.op('Flatten', [h], { axis: 1 });
  const w3 = g.initializer('fc1.w', 'float32', [64 * 5 * 5, 64], weights(1600 * 64, 1600, next));
  const b3 = g.initializer('fc1.b', 'float32', [64]);
  h = g.op('Relu', [g.op('Add', [g.op('MatMul', [h, w3]), b3])]);
  const w4 = g.initializer('fc2.w', 'float32', [64, 10], weights(640, 64, next));
  const b4 = g.initializer('fc2.b', 'float32', [10]);
  const y = g.op('Add', [g.op('MatMul', [h, w4]), b4], {}, { output: 'logits' });
  g.output(y, 'float32', [batch, 10]);
  g.graph.name = 'seed_cnn';
  return makeModel(g.graph);
}

/** One Identity per dtype: input `in_<dtype>` → output `out_<dtype>`, shape [n, 3]. */
export function identityModel(dtypes: readonly DType[]): Model {
  const g = new GraphBuilder();
  for (const d of dtypes) {
    const i = g.input(`in_${d}`, d, ['n', 3]);
    g.output(g.op('Identity', [i], {}, { output: `out_${d}` }), d, ['n', 3]);
  }
  g.graph.name = 'identity';
  return makeModel(g.graph);
}

/** y = a + b, both [batch, 4] float32; plus a second output s = ReduceSum(a) (not batched). */
export function twoInputModel(withUnbatchedOutput = false): Model {
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', ['batch', 4]);
  const b = g.input('b', 'float32', ['batch', 4]);
  g.output(g.op('Add', [a, b], {}, { output: 'y' }), 'float32', ['batch', 4]);
  if (withUnbatchedOutput) g.output(g.op('ReduceSum', [a], { keepdims: 0 }, { output: 's' }), 'float32', []);
  g.graph.name = 'add';
  return makeModel(g.graph);
}

/** A model whose only node has an op type nobody implements. */
export function unknownOpModel(): Model {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [1, 4]);
  g.output(g.op('MadeUpVergeOp', [x], {}, { output: 'y' }), 'float32', [1, 4]);
  g.graph.name = 'unknown_op';
  return makeModel(g.graph);
}
