import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../data/dataset.ts';
import { loadFashionMnist } from '../data/sources/fashion-mnist.ts';
import { BatchNorm, Conv2d, Dense, Dropout, Embedding, Flatten, ReLU, Sequential } from '../nn/index.ts';
import { Session } from '../runtime/session.ts';
import { directoryCheckpoints } from './checkpoint-files.ts';
import { evaluate, fit, holdOut, type FitCallback, type FitOptions } from './fit.ts';
import { ANCHOR_SUFFIX, proximalTerm } from './loss-terms.ts';
import { TrainingSession, type TrainingSessionOptions } from './session.ts';

/** Small slice of real Fashion-MNIST: enough to see learning, fast on 2 cores. */
const data: Dataset = loadFashionMnist({ train: 640, test: 200 });
const CHANCE = 1 / data.classes;
const tmp = mkdtempSync(join(tmpdir(), 'verge-fit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const model = () =>
  new Sequential(data.shape, [new Flatten(), new Dense(32), new ReLU(), new Dense(10)]).build({ seed: 3 });

async function session(opts: Partial<TrainingSessionOptions> = {}): Promise<TrainingSession> {
  return TrainingSession.create(model(), {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr: 3e-3 },
    threads: 1,
    ...opts,
  });
}

async function run(opts: FitOptions, sOpts: Partial<TrainingSessionOptions> = {}) {
  const s = await session(sOpts);
  try {
    return {
      result: await fit(s, data, { batchSize: 32, lr: 3e-3, seed: 1, ...opts }),
      state: s.getState(),
      test: await evaluate(s, data),
    };
  } finally {
    await s.release();
  }
}

describe('fit', () => {
  it('learns, and the same seed gives the same history', async () => {
    const a = await run({ epochs: 2, validation: 0.2 });
    const b = await run({ epochs: 2, validation: 0.2 });
    expect(a.result.history).toHaveLength(2);
    expect(a.result.history.map((h) => [h.loss, h.accuracy, h.val_loss, h.val_accuracy])).toEqual(
      b.result.history.map((h) => [h.loss, h.accuracy, h.val_loss, h.val_accuracy]),
    );
    expect(a.result.history[1]!.loss).toBeLessThan(a.result.history[0]!.loss);
    expect(a.test.accuracy).toBeGreaterThan(3 * CHANCE);
    expect(a.result.steps).toBe(2 * Math.ceil(512 / 32));
    const c = await run({ epochs: 1, seed: 2, validation: 0.2 });
    expect(c.result.history[0]!.loss).not.toBe(a.result.history[0]!.loss);
  });

  it('resuming from an epoch checkpoint continues exactly where a straight run goes', async () => {
    const straight = await run({ epochs: 3, validation: 'test' });
    const dir = join(tmp, 'ckpt');
    const first = await run({ epochs: 2, validation: 'test', checkpoints: directoryCheckpoints(dir) });
    expect(first.result.history).toHaveLength(2);
    expect(readdirSync(dir).sort()).toEqual(['epoch-0002.ckpt.onnx', 'fit-state.json']);
    const resumed = await run({ epochs: 3, validation: 'test', checkpoints: directoryCheckpoints(dir), resume: true });
    expect(resumed.result.resumedFrom).toBe(2);
    expect(resumed.result.history.map((h) => h.val_loss)).toEqual(straight.result.history.map((h) => h.val_loss));
    expect(resumed.state.step).toBe(straight.state.step);
    await expect(
      run({ epochs: 3, batchSize: 16, checkpoints: directoryCheckpoints(dir), resume: true }),
    ).rejects.toThrow(/cannot resume.*batchSize/);
  });

  it('stops early when the monitored metric stops improving and restores the best parameters', async () => {
    // min_delta larger than any possible gain: only the first epoch counts as an improvement.
    const r = await run({
      epochs: 10,
      validation: 0.25,
      earlyStopping: { patience: 1, monitor: 'val_accuracy', minDelta: 2 },
    });
    expect(r.result.stoppedEarly).toBe(true);
    expect(r.result.history).toHaveLength(3);
    expect(r.result.bestEpoch).toBe(1);
    const s = await session();
    s.setState(r.state);
    const { validation } = holdOut(data.train, 0.25, 1);
    const v = await evaluate(s, data, validation);
    await s.release();
    expect(v.loss).toBeCloseTo(r.result.history[0]!.val_loss!, 5);
  });

  it('runs a fixed number of steps with a schedule and reports progress', async () => {
    const seen: number[] = [];
    const lrs: number[] = [];
    const r = await run({
      steps: 25,
      schedule: { kind: 'cosine', warmup: 5 },
      onProgress: (p) => (seen.push(p.globalStep), lrs.push(p.lr)),
    });
    expect(r.result.steps).toBe(25);
    expect(r.result.epochs).toBe(2); // 20 steps per epoch at batch 32 on 640 samples
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(lrs[0]).toBeCloseTo(3e-3 / 5, 12);
    expect(lrs[4]).toBeCloseTo(3e-3, 12);
    expect(lrs[24]).toBeLessThan(lrs[5]!);
  });

  it('trains with MSE on one-hot targets; evaluate() of the exported plain model agrees with the session', async () => {
    const s = await session({ loss: 'mse', optimizer: { kind: 'sgd', lr: 0.5, momentum: 0.9 } });
    // no lr given: fit runs at the session's rate
    expect(s.learningRate).toBe(0.5);
    const r = await fit(s, data, { epochs: 2, batchSize: 32, loss: 'mse', seed: 1 });
    expect(r.history.map((h) => h.lr)).toEqual([0.5, 0.5]);
    expect(r.history[0]!.accuracy).toBeNull();
    const viaSession = await evaluate(s, data, data.test, { loss: 'mse' });
    const viaModel = await evaluate(s.exportModel(), data, data.test, { loss: 'mse' });
    await s.release();
    expect(viaModel.samples).toBe(200);
    expect(viaModel.accuracy).toBe(viaSession.accuracy);
    expect(viaModel.loss).toBeCloseTo(viaSession.loss, 5);
    expect(viaModel.accuracy).toBeGreaterThan(3 * CHANCE);
  });

  it('BatchNorm/Dropout nets: running statistics move during fit and the exported model uses them', async () => {
    const net = new Sequential(data.shape, [
      new Conv2d({ filters: 4, kernel: 3, stride: 2 }),
      new BatchNorm(),
      new ReLU(),
      new Flatten(),
      new Dropout(0.2),
      new Dense(10),
    ]);
    const s = await TrainingSession.create(net.build({ seed: 1 }), {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 3e-3 },
      threads: 1,
      seed: 1,
    });
    await fit(s, data, { epochs: 1, batchSize: 32, lr: 3e-3, seed: 1 });
    const exported = s.exportModel();
    const mean = exported.graph.initializers.find((t) => t.name === 'batchnorm_1.running_mean')!.data as Float32Array;
    expect(Array.from(mean).some((v) => Math.abs(v) > 1e-3)).toBe(true);
    // The plain model on onnxruntime gives the session's inference-mode outputs.
    const x = { dtype: 'float32' as const, dims: [4, ...data.shape], data: data.test.x.slice(0, 4 * 784) };
    const want = Object.values(await s.predict({ input: x }))[0]!.data as Float32Array;
    const ort = await Session.create(exported);
    const got = (await ort.run({ input: x })).logits!.data as Float32Array;
    await ort.release();
    await s.release();
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 4);
  });

  it('rejects bad options with clear errors', async () => {
    const s = await session();
    await expect(fit(s, data, { batchSize: 0 })).rejects.toThrow(/batch size/);
    await expect(fit(s, data, { earlyStopping: { patience: 1, monitor: 'val_loss' } })).rejects.toThrow(
      /no validation data/,
    );
    await expect(fit(s, data, { inputShape: [3, 28, 28] })).rejects.toThrow(/does not hold/);
    await s.release();
  });
});

describe('fit callbacks and session hooks', () => {
  it('calls the hooks in order; onBatchBegin replaces the batch, updateTensors holds a mask, stop() ends the run', async () => {
    const s = await session();
    const calls: string[] = [];
    const fed: number[] = [];
    const w = s.parameterNames.find((n) => s.tensor(n).dims.length === 2)!;
    const cb: FitCallback = {
      onTrainBegin: () => void calls.push('train'),
      onEpochBegin: (e) => void calls.push(`epoch ${e}`),
      // an on-the-fly transform: train on the negated images (a stand-in for augmentation)
      onBatchBegin: (b) => ({ ...b, x: b.x.map((v) => -v) }),
      onBatchEnd: (b, r, ctx) => {
        fed.push(b.x.reduce((a, v) => a + v, 0));
        expect(r.count).toBe(b.count);
        ctx.session.updateTensors([w], (v) => (v.data as Float32Array).fill(0, 0, 10));
        if (ctx.globalStep === 25) ctx.stop('enough');
      },
      onEpochEnd: (r) => void calls.push(`end ${r.epoch}: ${r.steps}`),
      onTrainEnd: (r) => void calls.push(`done ${r.steps} ${r.stopReason}`),
    };
    const r = await fit(s, data, { epochs: 5, batchSize: 32, seed: 1, shuffle: false, callbacks: [cb] });
    expect(calls).toEqual(['train', 'epoch 1', 'end 1: 20', 'epoch 2', 'end 2: 5', 'done 25 enough']);
    expect(r.stoppedEarly).toBe(true);
    expect(fed.every((sum) => sum < 0)).toBe(true); // the transformed (negated) batches were trained on
    expect(Array.from((s.tensor(w).data as Float32Array).subarray(0, 10))).toEqual(new Array(10).fill(0));
    await s.release();
  });

  it('a loss term (proximal, FedProx-style) adds mu·(p − anchor) to the gradient; anchors are set between steps', async () => {
    const mu = 0.5;
    const lr = 0.1;
    const opts = { loss: 'cross-entropy' as const, optimizer: { kind: 'sgd' as const, lr }, threads: 1 };
    const plain = await TrainingSession.create(model(), opts);
    const prox = await TrainingSession.create(model(), { ...opts, lossTerms: [proximalTerm(mu)] });
    const p = prox.parameterNames[0]!;
    const anchor = prox.tensor(`${p}${ANCHOR_SUFFIX}`);
    const shifted = Float32Array.from(anchor.data as Float32Array, (v) => v + 0.25);
    prox.setTensors({ [`${p}${ANCHOR_SUFFIX}`]: { ...anchor, data: shifted } });
    const x = { input: { dtype: 'float32' as const, dims: [8, ...data.shape], data: data.train.x.slice(0, 8 * 784) } };
    const y = { dtype: 'int32' as const, dims: [8], data: data.train.y.slice(0, 8) };
    const a = await plain.step(x, y);
    const b = await prox.step(x, y);
    expect(b.loss).toBeCloseTo(a.loss, 6);
    const n = (anchor.data as Float32Array).length;
    expect(b.terms!.proximal).toBeCloseTo((mu / 2) * n * 0.25 ** 2, 2);
    // p' = p − lr·(g + mu·(p − anchor)) = p_plain + lr·mu·0.25
    const got = prox.tensor(p).data as Float32Array;
    const want = plain.tensor(p).data as Float32Array;
    for (let i = 0; i < n; i += 97) expect(got[i]! - want[i]!).toBeCloseTo(lr * mu * 0.25, 5);
    await plain.release();
    await prox.release();
  });

  it('feeds integer token inputs (int64) from float samples, and refuses fractional ids', async () => {
    const n = 256;
    const x = new Float32Array(n * 4);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < 4; t++) x[i * 4 + t] = (i * 7 + t * 3) % 8;
      y[i] = x[i * 4]! < 4 ? 0 : 1;
    }
    const tokens: Dataset = {
      name: 'tokens',
      source: 'test',
      shape: [4],
      classes: 2,
      train: { x, y, count: n },
      test: { x, y, count: n },
    };
    const net = new Sequential([4], [new Embedding({ vocab: 8, dim: 4 }), new Flatten(), new Dense(2)], {
      dtype: 'int64',
    });
    const s = await TrainingSession.create(net.build({ seed: 1 }), {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 0.05 },
      threads: 1,
    });
    expect(s.inputType(s.graph.dataInputs[0]!).dtype).toBe('int64');
    const r = await fit(s, tokens, { epochs: 3, batchSize: 32 });
    expect(r.history[2]!.loss).toBeLessThan(r.history[0]!.loss);
    expect((await evaluate(s, tokens)).accuracy).toBeGreaterThan(0.9);
    x[0] = 0.5;
    await expect(fit(s, tokens, { epochs: 1 })).rejects.toThrow(/not a whole number/);
    await s.release();
  });
});

describe('holdOut', () => {
  it('keeps regression targets paired with their samples in both parts', () => {
    // sample i: x = [i, -i], target = [10i, 10i+1]
    const count = 6;
    const x = new Float32Array(count * 2);
    const targets = new Float32Array(count * 2);
    for (let i = 0; i < count; i++) {
      x.set([i, -i], i * 2);
      targets.set([i * 10, i * 10 + 1], i * 2);
    }
    const { train, validation } = holdOut({ x, y: new Int32Array(count), targets, count }, 0.34, 7);
    expect(train.count + validation.count).toBe(count);
    for (const part of [train, validation]) {
      expect(part.targets?.length).toBe(part.count * 2);
      for (let i = 0; i < part.count; i++) {
        const sample = part.x[i * 2]!;
        expect(Array.from(part.targets!.subarray(i * 2, i * 2 + 2))).toEqual([sample * 10, sample * 10 + 1]);
      }
    }
  });
});
