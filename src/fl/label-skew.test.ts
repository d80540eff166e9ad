import { describe, expect, it } from 'vitest';
import { blobDataset, blobModel } from '../../test/fl/helpers.ts';
import type { Dataset } from '../data/browser.ts';
import { findHead } from '../train/browser.ts';
import { ClientTrainer } from './client.ts';
import { ABSENT_OFFSET, labelCounts, labelSkewFromConfig, logitAdjustment } from './label-skew.ts';
import { selectSamples } from './partition.ts';
import { simulate } from './simulation.ts';

/** A client holding only the given classes of the blob data. */
function clientWith(classes: number[]): Dataset {
  const all = blobDataset(400, 40);
  const keep = [...all.train.y.keys()].filter((i) => classes.includes(all.train.y[i]!));
  return { ...all, train: selectSamples(all.train, keep) };
}

/** Σ|update| of the head's rows (weight row and bias) per class. */
async function headMovement(config: Record<string, number>, data: Dataset): Promise<number[]> {
  const model = blobModel();
  const trainer = await ClientTrainer.create(model, { optimizer: { kind: 'sgd', lr: 0.1 }, threads: 1 });
  try {
    const head = findHead(model);
    const r = await trainer.fit(trainer.initialWeights(), data, { local_steps: 5, batch_size: 16, ...config }, 1);
    const moved = new Array<number>(data.classes).fill(0);
    for (const s of trainer.layout.specs) {
      if (s.name !== head.weight && s.name !== head.bias) continue;
      const perClass = s.dims.length === 1 ? 1 : s.dims[1] === data.classes ? 0 : s.dims[1]!;
      for (let i = 0; i < s.size; i++) {
        const c = perClass === 1 ? i : perClass === 0 ? i % data.classes : Math.floor(i / perClass);
        moved[c]! += Math.abs(r.update[s.offset + i]!);
      }
    }
    return moved;
  } finally {
    await trainer.release();
  }
}

describe('label-skew corrections (client side)', () => {
  it('scale and offset from the label counts: FedRS α on absent classes, FedLC −τ·n^(−1/4)', () => {
    const counts = labelCounts(Int32Array.of(0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2), 3);
    expect(counts).toEqual([4, 0, 16]);
    const rs = logitAdjustment(counts, { restrictedSoftmax: 0.5, logitCalibration: 0 });
    expect([...rs.scale]).toEqual([1, 0.5, 1]);
    expect([...rs.offset]).toEqual([0, 0, 0]);
    const lc = logitAdjustment(counts, { restrictedSoftmax: 1, logitCalibration: 2 });
    expect([...lc.scale]).toEqual([1, 1, 1]);
    // 2 · 4^(−1/4) = √2, 2 · 16^(−1/4) = 1
    expect(lc.offset[0]).toBeCloseTo(-Math.SQRT2, 6);
    expect(lc.offset[1]).toBe(ABSENT_OFFSET);
    expect(lc.offset[2]).toBeCloseTo(-1, 6);
    expect(() => labelCounts(Int32Array.of(0, 3), 3)).toThrow(/label 3 is outside the model's 3 classes/);
  });

  it('reads the fit config; none when absent or off; bad values refused', () => {
    expect(labelSkewFromConfig({})).toBeUndefined();
    expect(labelSkewFromConfig({ restricted_softmax: 1, logit_calibration: 0 })).toBeUndefined();
    expect(labelSkewFromConfig({ restricted_softmax: 0.5 })).toEqual({ restrictedSoftmax: 0.5, logitCalibration: 0 });
    expect(labelSkewFromConfig({ logit_calibration: 1 })).toEqual({ restrictedSoftmax: 1, logitCalibration: 1 });
    expect(() => labelSkewFromConfig({ restricted_softmax: 1.5 })).toThrow(
      /'restricted_softmax' must be a number in \[0, 1\]/,
    );
    expect(() => labelSkewFromConfig({ logit_calibration: -1 })).toThrow(/'logit_calibration' must be a number ≥ 0/);
    expect(() => labelSkewFromConfig({ restricted_softmax: 'x' })).toThrow(/restricted_softmax/);
  });

  it('restricted softmax α 0 and logit calibration leave the head rows of classes a client lacks untouched', async () => {
    const data = clientWith([0, 2]);
    const plain = await headMovement({}, data);
    const absent = [...plain.keys()].filter((c) => c !== 0 && c !== 2);
    expect(absent.length).toBeGreaterThan(0);
    // plain softmax pushes the absent classes down: their rows move
    for (const c of absent) expect(plain[c]).toBeGreaterThan(1e-3);
    for (const config of [{ restricted_softmax: 0 }, { logit_calibration: 1 }] as Record<string, number>[]) {
      const moved = await headMovement(config, data);
      for (const c of absent) expect(moved[c]).toBe(0);
      expect(moved[0]).toBeGreaterThan(1e-3);
      expect(moved[2]).toBeGreaterThan(1e-3);
    }
    // α between: the absent rows move, less than with the plain softmax
    const half = await headMovement({ restricted_softmax: 0.5 }, data);
    for (const c of absent) {
      expect(half[c]).toBeGreaterThan(0);
      expect(half[c]).toBeLessThan(plain[c]!);
    }
  });

  it('simulate sends the corrections in the fit config; bad values are refused before training', async () => {
    const opts = {
      model: blobModel(),
      data: blobDataset(),
      clients: 4,
      partition: { kind: 'shards', perClient: 2 } as const,
      rounds: 3,
      localSteps: 10,
      batchSize: 16,
      clientOptimizer: { kind: 'sgd' as const, lr: 0.1 },
      threads: 1,
      seed: 3,
    };
    const plain = await simulate(opts);
    const rs = await simulate({ ...opts, restrictedSoftmax: 0.5 });
    let max = 0;
    rs.weights.forEach((w, i) => (max = Math.max(max, Math.abs(w - plain.weights[i]!))));
    expect(max).toBeGreaterThan(1e-3);
    expect(rs.final.accuracy).toBeGreaterThan(0.6);
    await expect(simulate({ ...opts, restrictedSoftmax: 2 })).rejects.toThrow(
      /--restricted-softmax must be in \[0, 1\]/,
    );
    await expect(simulate({ ...opts, logitCalibration: -1 })).rejects.toThrow(/--logit-calibration must be ≥ 0/);
  });
});
