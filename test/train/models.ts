/** Small models built directly with GraphBuilder for the training tests and the benchmark. */
import { GraphBuilder, makeModel } from '../../src/onnx/builder.ts';
import type { Model } from '../../src/onnx/ir.ts';
import { rng } from '../../src/data/dataset.ts';

function he(r: () => number, n: number, fanIn: number): number[] {
  const s = Math.sqrt(6 / fanIn);
  return Array.from({ length: n }, () => (r() * 2 - 1) * s);
}

/** DESIGN.md's seed CNN: conv32 3×3 ReLU, maxpool 2, conv64 3×3 ReLU, maxpool 2, flatten, dense64 ReLU, dense10. */
export function seedCnn(seed = 1): Model {
  const r = rng(seed);
  const g = new GraphBuilder();
  g.input('image', 'float32', ['batch', 1, 28, 28]);
  const w1 = g.initializer('conv1.weight', 'float32', [32, 1, 3, 3], he(r, 288, 9));
  const b1 = g.initializer('conv1.bias', 'float32', [32], new Array(32).fill(0));
  const w2 = g.initializer('conv2.weight', 'float32', [64, 32, 3, 3], he(r, 18432, 288));
  const b2 = g.initializer('conv2.bias', 'float32', [64], new Array(64).fill(0));
  const w3 = g.initializer('fc1.weight', 'float32', [64, 1600], he(r, 102400, 1600));
  const b3 = g.initializer('fc1.bias', 'float32', [64], new Array(64).fill(0));
  const w4 = g.initializer('fc2.weight', 'float32', [10, 64], he(r, 640, 64));
  const b4 = g.initializer('fc2.bias', 'float32', [10], new Array(10).fill(0));
  let x = g.op('Relu', [g.op('Conv', ['image', w1, b1], { kernel_shape: [3, 3] })]);
  x = g.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] });
  x = g.op('Relu', [g.op('Conv', [x, w2, b2], { kernel_shape: [3, 3] })]);
  x = g.op('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] });
  x = g.op('Flatten', [x], { axis: 1 });
  x = g.op('Relu', [g.op('Gemm', [x, w3, b3], { transB: 1 })]);
  const y = g.op('Gemm', [x, w4, b4], { transB: 1 }, { output: 'logits' });
  g.output(y, 'float32', ['batch', 10]);
  return makeModel(g.graph);
}
