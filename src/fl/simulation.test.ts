import { describe, expect, it } from 'vitest';
import { blobDataset, blobModel } from '../../test/fl/helpers.ts';
import { ClientTrainer } from './client.ts';
import { parseCompression } from './compress/index.ts';
import { modelLayout, weightsOf } from './model-weights.ts';
import { simulate, type SimulationCheckpoint, type SimulationOptions } from './simulation.ts';
import { findHead } from '../train/browser.ts';

const base = (): SimulationOptions => ({
  model: blobModel(),
  data: blobDataset(),
  clients: 4,
  partition: { kind: 'dirichlet', alpha: 0.5 },
  rounds: 3,
  localEpochs: 1,
  batchSize: 16,
  clientOptimizer: { kind: 'sgd', lr: 0.1 },
  threads: 1,
  seed: 3,
});

describe('fl simulate', () => {
  it('a run resumed from its round-1 checkpoint ends where the run in one go ends (server state included)', async () => {
    // FedAvgM keeps a server momentum, and the decaying client lr depends on the round: both must carry over
    const opts = { ...base(), strategy: 'fedavgm:0.9', lrDecay: 0.8 };
    const checkpoints: SimulationCheckpoint[] = [];
    const whole = await simulate({ ...opts, onCheckpoint: (c) => checkpoints.push(c) });
    expect(checkpoints.map((c) => c.round)).toEqual([1, 2, 3]);
    const after1 = checkpoints[0]!;
    const resumed = await simulate({
      ...opts,
      model: after1.model(),
      resume: { afterRound: 1, strategyState: after1.strategyState },
    });
    expect(resumed.rounds.map((x) => x.round)).toEqual([2, 3]);
    expect([...resumed.weights]).toEqual([...whole.weights]);
    expect(resumed.rounds.map((x) => x.accuracy)).toEqual(whole.rounds.slice(1).map((x) => x.accuracy));
    // without the server momentum the continuation differs: the state is what makes it exact
    const stateless = await simulate({ ...opts, model: after1.model(), resume: { afterRound: 1 } });
    expect([...stateless.weights]).not.toEqual([...whole.weights]);
    await expect(simulate({ ...opts, compress: parseCompression('int8'), resume: { afterRound: 1 } })).rejects.toThrow(
      /cannot be resumed/,
    );
    await expect(simulate({ ...opts, resume: { afterRound: 3 } })).rejects.toThrow(/below 3/);
  });

  it('FedAvg learns across non-IID clients and reports every round', async () => {
    const reports: number[] = [];
    const r = await simulate({ ...base(), onRound: (x) => reports.push(x.round) });
    expect(reports).toEqual([1, 2, 3]);
    expect(r.final.accuracy).toBeGreaterThan(0.85);
    expect(r.rounds[2]!.client_accuracy).toBeGreaterThan(0.8);
    expect(r.uplink_bytes).toBe(r.uplink_bytes_fp32); // uncompressed
    expect(r.clients.reduce((a, c) => a + c.train + c.holdout, 0)).toBe(800);
    // the exported model carries the final global weights
    expect([...weightsOf(r.model, modelLayout(r.model))]).toEqual([...r.weights]);
  });

  it('secure aggregation with a client dropping after sharing keys equals the plain aggregate within 1e-5', async () => {
    // same seeds, same clients; the dropped client is a failure in the plain run
    const plain = await simulate({ ...base(), rounds: 1, dropPerRound: 1 });
    const secure = await simulate({ ...base(), rounds: 1, dropPerRound: 1, secureAgg: true });
    expect(secure.rounds[0]!.clients).toBe(3);
    expect(secure.rounds[0]!.failures.map((f) => f.reason)).toEqual(['dropped after sharing keys (simulated)']);
    let max = 0;
    secure.weights.forEach((w, i) => (max = Math.max(max, Math.abs(w - plain.weights[i]!))));
    expect(max).toBeLessThan(1e-5);
  });

  it('FedProx trains with its proximal term: on non-IID data it differs from FedAvg and converges', async () => {
    const skewed = { ...base(), partition: { kind: 'shards', perClient: 1 } as const, rounds: 4, localEpochs: 2 };
    const avg = await simulate(skewed);
    const prox = await simulate({ ...skewed, strategy: 'fedprox:0.5' });
    expect(prox.strategy).toBe('fedprox');
    let max = 0;
    prox.weights.forEach((w, i) => (max = Math.max(max, Math.abs(w - avg.weights[i]!))));
    expect(max).toBeGreaterThan(1e-3);
    expect(prox.final.accuracy).toBeGreaterThan(0.8);
  });

  it('the proximal term keeps local updates closer to the global weights (larger μ, smaller update)', async () => {
    const trainer = await ClientTrainer.create(blobModel(), { optimizer: { kind: 'sgd', lr: 0.1 }, threads: 1 });
    try {
      const data = blobDataset(200, 40);
      const global = trainer.initialWeights();
      const norms: number[] = [];
      for (const mu of [0, 0.5, 5]) {
        const r = await trainer.fit(global, data, { local_epochs: 3, batch_size: 16, proximal_mu: mu }, 1);
        norms.push(Math.hypot(...r.update));
      }
      expect(norms[1]).toBeLessThan(norms[0]!);
      expect(norms[2]).toBeLessThan(norms[1]!);
      // μ = 0 is plain training: the same update as a config without μ
      const plain = await trainer.fit(global, data, { local_epochs: 3, batch_size: 16 }, 1);
      expect(Math.hypot(...plain.update)).toBeCloseTo(norms[0]!, 5);
      await expect(trainer.fit(global, data, { proximal_mu: -1 })).rejects.toThrow(/proximal_mu' must be ≥ 0/);
    } finally {
      await trainer.release();
    }
  });

  it('local_steps trains that many steps (a whole epoch when it is one); drift is reported per round', async () => {
    const trainer = await ClientTrainer.create(blobModel(), { optimizer: { kind: 'sgd', lr: 0.1 }, threads: 1 });
    try {
      const global = trainer.initialWeights();
      const data = blobDataset(200, 40); // 200 samples, batch 16: 13 steps per epoch
      const update = async (config: Record<string, number>) => [
        ...(await trainer.fit(global, data, { batch_size: 16, ...config }, 1)).update,
      ];
      expect(await update({ local_steps: 13 })).toEqual(await update({ local_epochs: 1 }));
      expect(await update({ local_steps: 26 })).toEqual(await update({ local_epochs: 2 }));
      expect(await update({ local_steps: 3 })).not.toEqual(await update({ local_epochs: 1 }));
      await expect(trainer.fit(global, data, { local_steps: 1.5 })).rejects.toThrow(
        /local_steps' must be a whole number/,
      );
    } finally {
      await trainer.release();
    }
    const r = await simulate({ ...base(), rounds: 2, localSteps: 5, lrDecay: 0.5 });
    for (const x of r.rounds) {
      expect(x.drift!.update_norm).toBeGreaterThan(0);
      // the norm of a mean is at most the mean of the norms
      expect(x.drift!.aggregate_norm).toBeLessThanOrEqual(x.drift!.update_norm * (1 + 1e-6));
    }
    await expect(simulate({ ...base(), lrDecay: 0 })).rejects.toThrow(/--lr-decay must be in \(0, 1\]/);
    // the floor is checked against the base rate (the client optimizer's 0.1 here) before any round
    await expect(simulate({ ...base(), lrDecay: 0.9, lrMin: 0.2 })).rejects.toThrow(/above the base client lr 0.1/);
    // the cosine schedule anneals over the run's rounds from the client optimizer's 0.1 (R = 2: 0.1, then 0.05)
    const cos = await simulate({ ...base(), rounds: 2, localSteps: 2, lrSchedule: 'cosine' });
    expect(cos.rounds.map((x) => x.client_lr)).toEqual([0.1, expect.closeTo(0.05, 12)]);
    expect(r.rounds.map((x) => x.client_lr)).toEqual([0.1, 0.05]); // the decay above: 0.1 · 0.5^(r − 1)
    await expect(simulate({ ...base(), lrSchedule: 'cosine', lrDecay: 0.9 })).rejects.toThrow(/takes no lr decay/);
  });

  it('freezeHead: the client trains the body only; the head of every update is zero', async () => {
    const model = blobModel();
    const trainer = await ClientTrainer.create(model, {
      optimizer: { kind: 'sgd', lr: 0.1 },
      threads: 1,
      freezeHead: true,
    });
    try {
      const head = findHead(model);
      const global = trainer.initialWeights();
      const r = await trainer.fit(global, blobDataset(200, 40), { local_steps: 5, batch_size: 16 }, 1);
      let headAbs = 0;
      let bodyAbs = 0;
      for (const s of trainer.layout.specs) {
        const part = r.update.subarray(s.offset, s.offset + s.size).reduce((a, v) => a + Math.abs(v), 0);
        if (s.name === head.weight || s.name === head.bias) headAbs += part;
        else bodyAbs += part;
      }
      expect(headAbs).toBe(0);
      expect(bodyAbs).toBeGreaterThan(0);
    } finally {
      await trainer.release();
    }
  });

  it('a client whose training diverges is a failure of the round; the federation goes on', async () => {
    const opts = { ...base(), rounds: 2, lr: 1e12 };
    const r = await simulate(opts);
    expect(r.rounds).toHaveLength(2);
    expect(r.rounds[0]!.clients).toBe(0);
    expect(r.rounds[0]!.failures.map((f) => f.reason)).toEqual(Array(4).fill(expect.stringMatching(/^E_/)));
    // nothing to aggregate: the global model is untouched
    expect([...r.weights]).toEqual([...weightsOf(opts.model, modelLayout(opts.model))]);
  });

  it('int8 updates cost about a quarter of the fp32 bytes', async () => {
    const r = await simulate({ ...base(), rounds: 1, compress: parseCompression('int8') });
    expect(r.uplink_bytes / r.uplink_bytes_fp32).toBeLessThan(0.3);
    expect(r.compression).toBe('int8');
  });

  it('refuses combinations that cannot work, before training', async () => {
    await expect(simulate({ ...base(), strategy: 'median', secureAgg: true })).rejects.toThrow(/mean-based strategy/);
    await expect(simulate({ ...base(), secureAgg: true, compress: parseCompression('int8') })).rejects.toThrow(
      /cannot be combined with --compress/,
    );
    await expect(simulate({ ...base(), malicious: 9 })).rejects.toThrow(/exceeds --clients/);
  });
});
