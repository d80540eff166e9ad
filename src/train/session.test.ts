/**
 * TrainingSession behaviour: optimizers against a plain-JS reference on a linear model, losses,
 * frozen parameters, partial batches, inference/export, checkpoints and failure paths.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { rng } from '../data/dataset.ts';
import { GraphBuilder, makeModel } from '../onnx/builder.ts';
import { loadModel } from '../onnx/io.ts';
import type { Model } from '../onnx/ir.ts';
import { Session } from '../runtime/session.ts';
import { loadCheckpointFile, saveCheckpointFile } from './checkpoint-files.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import type { OptimizerOptions } from './optimizer.ts';
import { TrainingSession } from './session.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/train');
const tmp = mkdtempSync(join(tmpdir(), 'verge-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const N = 4;
const IN = 3;
const OUT = 2;
const W0 = [0.5, -0.3, 0.2, 0.8, -0.6, 0.1];
const B0 = [0.05, -0.05];
const X = Float32Array.from({ length: N * IN }, (_, i) => Math.sin(i + 1));
const T = Float32Array.from({ length: N * OUT }, (_, i) => Math.cos(i));

/** y = x·W + b: small enough to differentiate by hand. */
function linear(): Model {
  const g = new GraphBuilder();
  g.input('x', 'float32', ['batch', IN]);
  const w = g.initializer('w', 'float32', [IN, OUT], W0);
  const b = g.initializer('b', 'float32', [OUT], B0);
  g.output(g.op('Add', [g.op('MatMul', ['x', w]), b], {}, { output: 'y' }), 'float32', ['batch', OUT]);
  return makeModel(g.graph);
}

/** Plain-JS reference of the optimizers, following torch.optim. */
function reference(opt: OptimizerOptions, steps: number, lr: number, clipNorm?: number): { w: number[]; b: number[] } {
  const p = [...W0, ...B0];
  const m = new Array<number>(p.length).fill(0);
  const v = new Array<number>(p.length).fill(0);
  for (let t = 1; t <= steps; t++) {
    const g = new Array<number>(p.length).fill(0);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < OUT; o++) {
        let y = p[IN * OUT + o]!;
        for (let i = 0; i < IN; i++) y += X[n * IN + i]! * p[i * OUT + o]!;
        const dy = (2 * (y - T[n * OUT + o]!)) / (N * OUT);
        for (let i = 0; i < IN; i++) g[i * OUT + o] += X[n * IN + i]! * dy;
        g[IN * OUT + o] += dy;
      }
    }
    if (clipNorm) {
      const norm = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
      const s = Math.min(1, clipNorm / (norm + 1e-6));
      for (let i = 0; i < g.length; i++) g[i]! *= s;
    }
    const wd = opt.weightDecay ?? (opt.kind === 'adamw' ? 0.01 : 0);
    for (let i = 0; i < p.length; i++) {
      let d = g[i]!;
      if (opt.kind === 'sgd') {
        if (wd) d += wd * p[i]!;
        const mu = opt.momentum ?? 0;
        if (mu) {
          m[i] = mu * m[i]! + d;
          d = opt.nesterov ? d + mu * m[i]! : m[i]!;
        }
        p[i]! -= lr * d;
        continue;
      }
      const [b1, b2, eps] = [opt.beta1 ?? 0.9, opt.beta2 ?? 0.999, opt.eps ?? 1e-8];
      if (opt.kind === 'adam' && wd) d += wd * p[i]!;
      if (opt.kind === 'adamw' && wd) p[i]! *= 1 - lr * wd;
      m[i] = b1 * m[i]! + (1 - b1) * d;
      v[i] = b2 * v[i]! + (1 - b2) * d * d;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + eps;
      p[i]! -= (lr / (1 - b1 ** t)) * (m[i]! / denom);
    }
  }
  return { w: p.slice(0, IN * OUT), b: p.slice(IN * OUT) };
}

const x: TensorValue = { dtype: 'float32', dims: [N, IN], data: X };
const t: TensorValue = { dtype: 'float32', dims: [N, OUT], data: T };

describe('optimizers match torch.optim formulas (3 steps)', () => {
  const cases: [string, OptimizerOptions, number?][] = [
    ['sgd', { kind: 'sgd' }],
    ['sgd momentum + weight decay', { kind: 'sgd', momentum: 0.9, weightDecay: 0.05 }],
    ['sgd nesterov', { kind: 'sgd', momentum: 0.8, nesterov: true }],
    ['adam', { kind: 'adam', beta1: 0.8, eps: 1e-6 }],
    ['adam + L2', { kind: 'adam', weightDecay: 0.1 }],
    ['adamw', { kind: 'adamw', weightDecay: 0.2 }],
    ['sgd with clipNorm', { kind: 'sgd', momentum: 0.5 }, 0.05],
  ];
  test.each(cases)('%s', async (_name, opt, clipNorm) => {
    const lr = 0.05;
    const s = await TrainingSession.create(linear(), { loss: 'mse', optimizer: opt, clipNorm, threads: 1 });
    for (let i = 0; i < 3; i++) await s.step({ x }, t, lr);
    const ref = reference(opt, 3, lr, clipNorm);
    const st = s.getState().tensors;
    Array.from(st.w!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(ref.w[i]!, 5));
    Array.from(st.b!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(ref.b[i]!, 5));
    expect(s.stepCount).toBe(3);
    await s.release();
  });

  test('learningRate: the optimizer lr or its default, and what step() uses without one', async () => {
    const rates: [OptimizerOptions, number][] = [
      [{ kind: 'sgd' }, 0.01],
      [{ kind: 'adam' }, 1e-3],
      [{ kind: 'adamw', lr: 0.2 }, 0.2],
      [{ kind: 'sgd', lr: 0.07, momentum: 0.9 }, 0.07],
    ];
    for (const [opt, want] of rates) {
      const s = await TrainingSession.create(linear(), { loss: 'mse', optimizer: opt, threads: 1 });
      expect(s.learningRate, opt.kind).toBe(want);
      await s.release();
    }
    const opt: OptimizerOptions = { kind: 'sgd', lr: 0.07, momentum: 0.9 };
    const s = await TrainingSession.create(linear(), { loss: 'mse', optimizer: opt, threads: 1 });
    for (let i = 0; i < 3; i++) await s.step({ x }, t);
    const ref = reference(opt, 3, 0.07);
    Array.from(s.getState().tensors.w!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(ref.w[i]!, 5));
    await s.release();
  });
});

describe('losses', () => {
  test('mse loss value is the mean squared error', async () => {
    const s = await TrainingSession.create(linear(), { loss: 'mse', optimizer: { kind: 'sgd' }, threads: 1 });
    const y = (await s.predict({ x })).y!.data as Float32Array;
    const want = y.reduce((a, v, i) => a + (v - T[i]!) ** 2, 0) / y.length;
    const r = await s.evaluate({ x }, t);
    expect(r.loss).toBeCloseTo(want, 5);
    expect(r.correct).toBeUndefined();
    await s.release();
  });

  test('binary cross-entropy from logits: stable value, accuracy count, int labels accepted', async () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', ['batch', IN]);
    const w = g.initializer('w', 'float32', [IN, 1], [3, -2, 40]); // large logits: stability
    g.output(g.op('MatMul', ['x', w], {}, { output: 'z' }), 'float32', ['batch', 1]);
    const s = await TrainingSession.create(makeModel(g.graph), {
      loss: 'binary-cross-entropy',
      optimizer: { kind: 'sgd' },
      threads: 1,
    });
    const labels: TensorValue = { dtype: 'int32', dims: [N], data: Int32Array.from([1, 0, 1, 1]) };
    const z = (await s.predict({ x })).z!.data as Float32Array;
    const want =
      Array.from(z).reduce((a, v, i) => {
        const yv = labels.data[i] as number;
        return a + Math.max(v, 0) - v * yv + Math.log1p(Math.exp(-Math.abs(v)));
      }, 0) / N;
    const correct = Array.from(z).filter((v, i) => v > 0 === (labels.data[i] as number) > 0.5).length;
    const r = await s.step({ x }, labels, 0.01);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.loss).toBeCloseTo(want, 4);
    expect(r.correct).toBe(correct);
    await s.release();
  });
});

function fixtureBatch(count: number, seed: number): { x: TensorValue; y: TensorValue } {
  const r = rng(seed);
  return {
    x: { dtype: 'float32', dims: [count, 1, 28, 28], data: Float32Array.from({ length: count * 784 }, () => r()) },
    y: { dtype: 'int32', dims: [count], data: Int32Array.from({ length: count }, () => Math.floor(r() * 10)) },
  };
}

describe('training session on PyTorch-exported models', () => {
  test('cross-entropy: partial batch, evaluate/predict, exported model equals predict', async () => {
    const model = loadModel(join(FIXTURES, 'bn_cnn.onnx'));
    const s = await TrainingSession.create(model, {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-3 },
      threads: 1,
    });
    const full = fixtureBatch(16, 1);
    const r1 = await s.step({ input: full.x }, full.y);
    expect(r1.count).toBe(16);
    expect(r1.correct).toBeGreaterThanOrEqual(0);
    const part = fixtureBatch(5, 2); // the last, partial batch of an epoch
    const r2 = await s.step({ input: part.x }, part.y);
    expect(r2.count).toBe(5);
    const e = await s.evaluate({ input: full.x }, full.y);
    expect(e.count).toBe(16);
    const logits = (await s.predict({ input: full.x })).logits!;
    // The exported model is a plain inference model: no training nodes, same outputs, BN stats moved.
    const exported = s.exportModel();
    expect(exported.graph.nodes.map((n) => n.opType)).toEqual(model.graph.nodes.map((n) => n.opType));
    const mean0 = model.graph.initializers.find((i) => i.name === '1.running_mean')!.data as Float32Array;
    const mean1 = exported.graph.initializers.find((i) => i.name === '1.running_mean')!.data as Float32Array;
    expect(Array.from(mean1)).not.toEqual(Array.from(mean0));
    const plain = await Session.create(exported);
    const out = (await plain.run({ input: full.x })).logits!.data as Float32Array;
    Array.from(out).forEach((v, i) => expect(v).toBeCloseTo((logits.data as Float32Array)[i]!, 5));
    // Inference-mode loss from the exported model's logits equals evaluate().
    let loss = 0;
    let correct = 0;
    for (let n = 0; n < 16; n++) {
      const row = Array.from(out.subarray(n * 10, n * 10 + 10));
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0));
      loss += lse - row[full.y.data[n] as number]!;
      if (row.indexOf(mx) === full.y.data[n]) correct++;
    }
    expect(e.loss).toBeCloseTo(loss / 16, 4);
    expect(e.correct).toBe(correct);
    await plain.release();
    await s.release();
  });

  test('frozen parameters stay fixed (list and predicate)', async () => {
    const model = loadModel(join(FIXTURES, 'mlp.onnx'));
    const head = (p: string) => !p.startsWith('5.');
    for (const frozen of [['1.weight', '1.bias', '3.weight', '3.bias'], head]) {
      const s = await TrainingSession.create(model, {
        loss: 'cross-entropy',
        optimizer: { kind: 'sgd', lr: 0.1 },
        frozen,
        threads: 1,
      });
      expect([...s.parameterNames].sort()).toEqual(['5.bias', '5.weight']);
      const b = fixtureBatch(8, 3);
      await s.step({ input: b.x }, b.y);
      const out = s.exportModel();
      for (const name of ['1.weight', '3.bias']) {
        const before = model.graph.initializers.find((i) => i.name === name)!.data;
        expect(out.graph.initializers.find((i) => i.name === name)!.data).toEqual(before);
      }
      const w0 = model.graph.initializers.find((i) => i.name === '5.weight')!.data;
      expect(out.graph.initializers.find((i) => i.name === '5.weight')!.data).not.toEqual(w0);
      await s.release();
    }
  });

  test('checkpoint: save, keep training, load, resume gives the same step', async () => {
    const model = loadModel(join(FIXTURES, 'mlp.onnx'));
    const s = await TrainingSession.create(model, {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-2 },
      threads: 1,
    });
    const b1 = fixtureBatch(8, 4);
    const b2 = fixtureBatch(8, 5);
    await s.step({ input: b1.x }, b1.y);
    const path = join(tmp, 'ckpt.onnx');
    saveCheckpointFile(s, path);
    const continued = await s.step({ input: b2.x }, b2.y);
    const after = s.getState();
    const s2 = await TrainingSession.create(model, {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-2 },
      threads: 1,
    });
    loadCheckpointFile(s2, path);
    expect(s2.stepCount).toBe(1);
    const resumed = await s2.step({ input: b2.x }, b2.y);
    expect(resumed.loss).toBeCloseTo(continued.loss, 6);
    const st = s2.getState();
    for (const [k, v] of Object.entries(after.tensors)) expect(st.tensors[k]!.data).toEqual(v.data);
    await s.release();
    await s2.release();
  });

  test('a file that is not a checkpoint is refused with a code', async () => {
    const s = await TrainingSession.create(loadModel(join(FIXTURES, 'mlp.onnx')), {
      loss: 'cross-entropy',
      optimizer: { kind: 'sgd' },
      threads: 1,
    });
    expect(() => loadCheckpointFile(s, join(FIXTURES, 'mlp.onnx'))).toThrow(/not a verge training checkpoint/);
    const bad = join(tmp, 'bad.onnx');
    writeFileSync(bad, 'not onnx');
    expect(() => loadCheckpointFile(s, bad)).toThrow();
    await s.release();
  });
});

describe('failure paths', () => {
  test('an op without a gradient rule names the op and node', async () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', ['batch', IN]);
    const w = g.initializer('w', 'float32', [IN, OUT], W0);
    g.output(g.op('Cos', [g.op('MatMul', ['x', w])], {}, { name: 'the_cos', output: 'y' }), 'float32', ['batch', OUT]);
    await expect(
      TrainingSession.create(makeModel(g.graph), { loss: 'mse', optimizer: { kind: 'sgd' } }),
    ).rejects.toMatchObject({
      code: 'E_NO_GRADIENT',
      message: 'no gradient rule for Cos (node the_cos)',
    });
  });

  test('cross-entropy on a rank-3 output and an unknown output are refused', async () => {
    await expect(
      TrainingSession.create(linear(), { loss: 'mse', optimizer: { kind: 'sgd' }, output: 'nope' }),
    ).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    const g = new GraphBuilder();
    g.input('x', 'float32', ['batch', 2, IN]);
    const w = g.initializer('w', 'float32', [IN, OUT], W0);
    g.output(g.op('MatMul', ['x', w], {}, { output: 'y' }), 'float32', ['batch', 2, OUT]);
    await expect(
      TrainingSession.create(makeModel(g.graph), { loss: 'cross-entropy', optimizer: { kind: 'sgd' } }),
    ).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
  });

  test('everything frozen: nothing to train', async () => {
    await expect(
      TrainingSession.create(linear(), { loss: 'mse', optimizer: { kind: 'sgd' }, frozen: () => true }),
    ).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
  });
});
