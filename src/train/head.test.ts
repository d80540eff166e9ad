/**
 * Classifier heads (head.ts) and frozen parameters (freeze.ts) on small hand-built graphs of the
 * three head shapes torch exports (Gemm, MatMul + Add, Conv → pool → Flatten), plus the failure
 * paths a user meets: an op after the head that fixes the class count, no head at all, a freeze
 * pattern that matches nothing or everything. Real torchvision exports: finetune.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { GraphBuilder, makeModel } from '../onnx/builder.ts';
import type { Model, Tensor } from '../onnx/ir.ts';
import { Session } from '../runtime/session.ts';
import { resolveFrozen, parameterNames } from './freeze.ts';
import { findHead, replaceHead } from './head.ts';
import { TrainingSession } from './session.ts';

const FEATURES = 6;
const values = (n: number, k = 0.1) => Array.from({ length: n }, (_, i) => k * Math.sin(i + 1));

/** x[batch, 4] → Gemm 4→6 → Relu → (head) → 10 scores; `head` picks how the head is written. */
function mlp(head: 'gemm' | 'matmul-add' | 'gemm-reshape'): Model {
  const g = new GraphBuilder();
  g.input('x', 'float32', ['batch', 4]);
  const w1 = g.initializer('body.weight', 'float32', [FEATURES, 4], values(FEATURES * 4));
  const b1 = g.initializer('body.bias', 'float32', [FEATURES], values(FEATURES));
  const h = g.op('Relu', [g.op('Gemm', ['x', w1, b1], { transB: 1 })]);
  let y: string;
  if (head === 'matmul-add') {
    const w = g.initializer('fc.weight', 'float32', [FEATURES, 10], values(FEATURES * 10));
    const b = g.initializer('fc.bias', 'float32', [10], values(10));
    y = g.op('Add', [g.op('MatMul', [h, w]), b]);
  } else {
    const w = g.initializer('fc.weight', 'float32', [10, FEATURES], values(FEATURES * 10));
    const b = g.initializer('fc.bias', 'float32', [10], values(10));
    y = g.op('Gemm', [h, w, b], { transB: 1 });
    if (head === 'gemm-reshape') y = g.op('Reshape', [y, g.constInt64([-1, 10])]);
  }
  g.output(g.op('Identity', [y], {}, { output: 'scores' }), 'float32', ['batch', 10]);
  return makeModel(g.graph, { opset: 13 });
}

/** x[batch, 2, 4, 4] → Conv 2→3 → BN → Relu → (head: Conv 1×1 3→10) → Relu → GlobalAveragePool → Flatten. */
function convnet(): Model {
  const g = new GraphBuilder();
  g.input('x', 'float32', ['batch', 2, 4, 4]);
  const w1 = g.initializer('conv.weight', 'float32', [3, 2, 3, 3], values(54));
  const bn = ['bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'].map((n, i) =>
    g.initializer(n, 'float32', [3], i === 3 ? [1, 1.5, 2] : i === 0 ? [1, 1, 1] : values(3)),
  );
  const h = g.op('Relu', [g.op('BatchNormalization', [g.op('Conv', ['x', w1], { pads: [1, 1, 1, 1] }), ...bn])]);
  const w = g.initializer('classifier.weight', 'float32', [10, 3, 1, 1], values(30));
  const b = g.initializer('classifier.bias', 'float32', [10], values(10));
  const y = g.op('Flatten', [g.op('GlobalAveragePool', [g.op('Relu', [g.op('Conv', [h, w, b])])])]);
  g.output(g.op('Identity', [y], {}, { output: 'scores' }), 'float32', ['batch', 10]);
  return makeModel(g.graph, { opset: 13 });
}

const init = (m: Model, name: string): Tensor => m.graph.initializers.find((t) => t.name === name)!;
const outShape = (m: Model) => (m.graph.outputs[0]!.type?.kind === 'tensor' ? m.graph.outputs[0]!.type.shape : []);

async function scoresDims(m: Model, x: number[]): Promise<number[]> {
  const s = await Session.create(m);
  try {
    const out = await s.run({ x: { dtype: 'float32', dims: x, data: new Float32Array(x.reduce((a, b) => a * b, 1)) } });
    return out.scores!.dims;
  } finally {
    await s.release();
  }
}

describe('findHead / replaceHead', () => {
  test.each([
    ['gemm', 'Gemm', [3, FEATURES]],
    ['matmul-add', 'MatMul', [FEATURES, 3]],
  ] as const)('%s head: fresh weights in PyTorch’s range, names kept, output follows', async (kind, op, dims) => {
    const m = mlp(kind);
    const head = findHead(m);
    expect(head).toMatchObject({ op, weight: 'fc.weight', bias: 'fc.bias', classes: 10, features: FEATURES });
    const { model } = replaceHead(m, 3, { seed: 7 });
    const w = init(model, 'fc.weight');
    expect(w.dims).toEqual(dims);
    expect(init(model, 'fc.bias').dims).toEqual([3]);
    const bound = 1 / Math.sqrt(FEATURES);
    for (const v of [...(w.data as Float32Array), ...(init(model, 'fc.bias').data as Float32Array)])
      expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    expect(new Set(w.data as Float32Array).size).toBe(3 * FEATURES); // random, not constant
    expect(init(model, 'body.weight').data).toEqual(init(m, 'body.weight').data);
    expect(outShape(model)).toEqual(['batch', 3]);
    expect(await scoresDims(model, [2, 4])).toEqual([2, 3]);
    // Same seed, same head; the source is not modified.
    expect(replaceHead(m, 3, { seed: 7 }).model.graph.initializers).toEqual(model.graph.initializers);
    expect(init(m, 'fc.weight').dims).toEqual(op === 'Gemm' ? [10, FEATURES] : [FEATURES, 10]);
  });

  test('Conv head behind Relu, pooling and Flatten (squeezenet)', async () => {
    const m = convnet();
    expect(findHead(m)).toMatchObject({ op: 'Conv', weight: 'classifier.weight', classes: 10, features: 3 });
    const { model } = replaceHead(m, 4);
    expect(init(model, 'classifier.weight').dims).toEqual([4, 3, 1, 1]);
    expect(init(model, 'classifier.bias').dims).toEqual([4]);
    expect(await scoresDims(model, [2, 2, 4, 4])).toEqual([2, 4]);
  });

  test('an op after the head that fixes the class count is refused with one line', () => {
    expect(() => replaceHead(mlp('gemm-reshape'), 3)).toThrow(
      /replacing the head \(Gemm '.*'\) does not change output 'scores': an op after it fixes 10 outputs/,
    );
  });

  test('no head on the path to the output', () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', ['batch', 4]);
    g.output(g.op('Softmax', [g.op('Mul', ['x', 'x'])], {}, { output: 'p' }), 'float32', ['batch', 4]);
    expect(() => findHead(makeModel(g.graph, { opset: 13 }))).toThrow(
      /cannot find the classifier layer of output 'p': it comes from Mul node/,
    );
  });

  test('bad class counts', () => {
    expect(() => replaceHead(mlp('gemm'), 0)).toThrow(/positive integer/);
  });
});

describe('resolveFrozen', () => {
  test('backbone = everything but the head; BN running statistics are not parameters', () => {
    const m = convnet();
    expect(parameterNames(m)).toEqual(['conv.weight', 'bn.weight', 'bn.bias', 'classifier.weight', 'classifier.bias']);
    expect(resolveFrozen(m, 'backbone')).toEqual({
      frozen: ['conv.weight', 'bn.weight', 'bn.bias'],
      trainable: ['classifier.weight', 'classifier.bias'],
    });
    expect(resolveFrozen(m, /^conv\./).frozen).toEqual(['conv.weight']);
  });

  test('a pattern matching nothing or everything is refused, naming example parameters', () => {
    expect(() => resolveFrozen(mlp('gemm'), /^layer1\./)).toThrow(
      "--freeze /^layer1\\./ matches none of the model's 4 parameter tensors (names look like: body.weight, body.bias, fc.weight, fc.bias)",
    );
    expect(() => resolveFrozen(mlp('gemm'), /./)).toThrow(/matches all 4 parameter tensors: nothing would train/);
  });
});

describe('training a new head on a frozen backbone', () => {
  const x = { dtype: 'float32' as const, dims: [4, 2, 4, 4], data: Float32Array.from(values(128, 1)) };
  const labels = { dtype: 'int64' as const, dims: [4], data: BigInt64Array.from([0n, 1n, 2n, 3n]) };

  test.each([true, false])('trainBatchNorm %s', async (trainBatchNorm) => {
    const { model } = replaceHead(convnet(), 4, { seed: 1 });
    const { frozen } = resolveFrozen(model, 'backbone');
    const s = await TrainingSession.create(model, {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 0.05 },
      frozen,
      trainBatchNorm,
    });
    try {
      // Frozen: no optimizer slots, no gradient of the backbone's convolution.
      const slots = s.stateTensors.filter((t) => t.kind === 'optimizer').map((t) => t.param);
      expect(new Set(slots)).toEqual(new Set(['classifier.weight', 'classifier.bias']));
      expect(s.graph.model.graph.nodes.some((n) => n.opType === 'ConvTranspose')).toBe(false);
      const buffers = s.stateTensors.filter((t) => t.kind === 'buffer').map((t) => t.input);
      expect(buffers).toEqual(trainBatchNorm ? ['bn.running_mean', 'bn.running_var'] : []);
      const first = await s.step({ x }, labels);
      let last = first.loss;
      for (let i = 0; i < 10; i++) last = (await s.step({ x }, labels)).loss;
      expect(last).toBeLessThan(first.loss);
      const out = s.exportModel();
      for (const p of [...frozen, 'bn.running_mean', 'bn.running_var']) {
        const same = init(out, p).data.every((v, i) => v === init(model, p).data[i]);
        expect(same, p).toBe(p.startsWith('bn.running') ? !trainBatchNorm : true);
      }
    } finally {
      await s.release();
    }
  });
});
