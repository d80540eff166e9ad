/**
 * Data-parallel training (TrainingSessionOptions.replicas): a step whose batch is cut between the
 * session and replica runners computes what one session computes on the whole batch. The
 * replicas here are onnxruntime sessions in this process (the browser's run in web workers).
 */
import { describe, expect, test } from 'vitest';
import { rng } from '../data/dataset.ts';
import { buildArchitecture, Dense, Dropout, Sequential } from '../nn/index.ts';
import type { Model } from '../onnx/ir.ts';
import { Session } from '../runtime/session.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import { shardRanges, shardRows, type GradientReplicas } from './data-parallel.ts';
import { proximalTerm } from './loss-terms.ts';
import { TrainingSession, type TrainingSessionOptions } from './session.ts';

/** `count` runners: plain sessions over the gradient model, in this process. */
function localReplicas(
  count: number,
  extra: Pick<GradientReplicas, 'ownShare' | 'optional'> = {},
): GradientReplicas & { started: number } {
  const r = {
    ...extra,
    started: 0,
    start: async (bytes: Uint8Array) => {
      const runners = [];
      for (let i = 0; i < count; i++) runners.push(await Session.create(bytes, { threads: 1 }));
      r.started += runners.length;
      return runners;
    },
  };
  return r;
}

const BATCH = 10;
function batches(steps: number): { x: TensorValue; y: TensorValue }[] {
  const next = rng(7);
  return Array.from({ length: steps }, () => ({
    x: { dtype: 'float32', dims: [BATCH, 1, 28, 28], data: Float32Array.from({ length: BATCH * 784 }, next) },
    y: { dtype: 'int32', dims: [BATCH], data: Int32Array.from({ length: BATCH }, () => Math.floor(next() * 10)) },
  }));
}

async function train(model: Model, opts: TrainingSessionOptions, steps: number) {
  const s = await TrainingSession.create(model, opts);
  const results = [];
  for (const b of batches(steps)) results.push(await s.step({ input: b.x }, b.y));
  const state = s.getState();
  const replicas = s.replicaCount;
  await s.release();
  return { results, state, replicas };
}

function maxAbsDiff(a: TensorValue, b: TensorValue): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return m;
}

describe('data-parallel training', () => {
  test('shards: near-equal row ranges, empty ones dropped', () => {
    expect(shardRanges(10, 3)).toEqual([
      [0, 4],
      [4, 7],
      [7, 10],
    ]);
    expect(shardRanges(64, 2)).toEqual([
      [0, 32],
      [32, 64],
    ]);
    expect(shardRanges(1, 3)).toEqual([[0, 1]]);
  });

  test('weighted shards: rows in proportion, largest remainders first, empty shards kept', () => {
    expect(shardRows(10, [1, 1, 1])).toEqual([
      [0, 4],
      [4, 7],
      [7, 10],
    ]);
    // 10·1/3 = 3.33 → 3, 10·2/3 = 6.67 → 7
    expect(shardRows(10, [0.5, 1])).toEqual([
      [0, 3],
      [3, 10],
    ]);
    // 64·0.8/1.8 = 28.4 → 28; 35.6 → 36
    expect(shardRows(64, [0.8, 1])).toEqual([
      [0, 28],
      [28, 64],
    ]);
    expect(shardRows(1, [0.5, 1])).toEqual([
      [0, 0],
      [0, 1],
    ]);
  });

  const cnn = buildArchitecture('cnn', { inputShape: [1, 28, 28], classes: 10, seed: 0 });
  const cases: [string, TrainingSessionOptions][] = [
    ['Adam (the training page)', { loss: 'cross-entropy', optimizer: { kind: 'adam', lr: 2e-3 } }],
    [
      'SGD momentum, clipped, with a proximal term',
      {
        loss: 'cross-entropy',
        optimizer: { kind: 'sgd', momentum: 0.9, lr: 0.1 },
        clipNorm: 0.5,
        lossTerms: [proximalTerm(0.1)],
      },
    ],
  ];
  for (const [name, opts] of cases) {
    test(`${name}: batch 10 on 3 replicas (rows 4/3/3) = one session on the batch`, async () => {
      const steps = 3;
      const one = await train(cnn, opts, steps);
      const replicas = localReplicas(2);
      const three = await train(cnn, { ...opts, replicas }, steps);
      expect(one.replicas).toBe(1);
      expect(three.replicas).toBe(3);
      expect(replicas.started).toBe(2);
      for (let i = 0; i < steps; i++) {
        expect(three.results[i]!.loss).toBeCloseTo(one.results[i]!.loss, 5);
        expect(three.results[i]!.correct).toBe(one.results[i]!.correct);
        expect(three.results[i]!.count).toBe(BATCH);
        for (const [k, v] of Object.entries(one.results[i]!.terms ?? {}))
          expect(Math.abs(three.results[i]!.terms![k]! - v)).toBeLessThanOrEqual(1e-5 * Math.abs(v));
      }
      expect(three.state.step).toBe(steps);
      for (const [k, v] of Object.entries(one.state.tensors)) {
        // Adam divides by √v: the few-ulp differences of a summation order grow a little
        expect(maxAbsDiff(three.state.tensors[k]!, v), k).toBeLessThan(2e-5);
      }
      // the steps moved the parameters far more than that
      let moved = 0;
      for (const t of cnn.graph.initializers) {
        const v = one.state.tensors[t.name];
        if (v) moved = Math.max(moved, maxAbsDiff(v, { dtype: t.dtype, dims: t.dims, data: t.data }));
      }
      expect(moved).toBeGreaterThan(1e-3);
    }, 120_000);
  }

  const adam: TrainingSessionOptions = { loss: 'cross-entropy', optimizer: { kind: 'adam', lr: 2e-3 } };
  // ownShare 0.5: rows 3 (session) / 7 (runner); 0.05: the session's shard is empty, the runner
  // computes all 10 rows and the session only updates
  for (const ownShare of [0.5, 0.05]) {
    test(`uneven shards (ownShare ${ownShare}) = one session on the batch`, async () => {
      const steps = 2;
      const one = await train(cnn, adam, steps);
      const two = await train(cnn, { ...adam, replicas: localReplicas(1, { ownShare }) }, steps);
      expect(two.replicas).toBe(2);
      for (let i = 0; i < steps; i++) {
        expect(two.results[i]!.loss).toBeCloseTo(one.results[i]!.loss, 5);
        expect(two.results[i]!.correct).toBe(one.results[i]!.correct);
      }
      for (const [k, v] of Object.entries(one.state.tensors))
        expect(maxAbsDiff(two.state.tensors[k]!, v), k).toBeLessThan(2e-5);
    }, 120_000);
  }

  test('a share out of range is refused before any work', async () => {
    for (const ownShare of [0, -1, Number.NaN, 17]) {
      const replicas = localReplicas(1, { ownShare });
      await expect(TrainingSession.create(cnn, { ...adam, replicas })).rejects.toThrow(/E_BAD_ARGUMENT|ownShare/);
      expect(replicas.started).toBe(0);
    }
  });

  test('optional replicas: a model that cannot be split trains on the session alone', async () => {
    const bn = buildArchitecture('mobilenet-tiny', { inputShape: [1, 28, 28], classes: 10, seed: 0 });
    const replicas = localReplicas(1, { optional: true });
    const s = await TrainingSession.create(bn, { ...adam, replicas });
    expect(s.replicaCount).toBe(1);
    expect(replicas.started).toBe(0);
    const b = batches(1)[0]!;
    expect(Number.isFinite((await s.step({ input: b.x }, b.y)).loss)).toBe(true);
    await s.release();
  }, 120_000);

  test('refused for steps that depend on the whole batch or draw random masks', async () => {
    const bn = buildArchitecture('mobilenet-tiny', { inputShape: [1, 28, 28], classes: 10, seed: 0 });
    await expect(
      TrainingSession.create(bn, { loss: 'cross-entropy', optimizer: { kind: 'adam' }, replicas: localReplicas(1) }),
    ).rejects.toThrow(/E_UNSUPPORTED|BatchNormalization/);
    const dropout = new Sequential([8], [new Dense(6), new Dropout(0.5), new Dense(3)]).build({ seed: 0 });
    await expect(
      TrainingSession.create(dropout, {
        loss: 'cross-entropy',
        optimizer: { kind: 'adam' },
        replicas: localReplicas(1),
      }),
    ).rejects.toThrow(/random/);
    // eval-mode BatchNormalization (fixed statistics) does not depend on the batch
    const s = await TrainingSession.create(bn, {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam' },
      trainBatchNorm: false,
      replicas: localReplicas(1),
    });
    expect(s.replicaCount).toBe(2);
    await s.release();
  }, 120_000);
});
