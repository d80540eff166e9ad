/**
 * Sequence task (brief item: "a GRU sequence classifier built with nn and one imported from
 * PyTorch train to clearly better than chance"): the seeded order-and-sum task of
 * sequence-task.ts, 5 steps × 8 features, 4 classes (chance 25%).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dense, GRU, Sequential } from '../../src/nn/index.ts';
import type { Model } from '../../src/onnx/ir.ts';
import { loadModel } from '../../src/onnx/io.ts';
import { evaluate, fit } from '../../src/train/fit.ts';
import { hasRecurrent, lowerRecurrentFor, transferParameters } from '../../src/train/lower/index.ts';
import { TrainingSession } from '../../src/train/session.ts';
import { FIXTURE_MODELS_DIR } from '../fixtures/index.ts';
import { SEQUENCE_CLASSES, sequenceTask } from './sequence-task.ts';

const data = sequenceTask({ train: 2000, test: 500, seed: 1 });
const CHANCE = 1 / SEQUENCE_CLASSES;
/** "Clearly better than chance": at least 2.4× chance (60% on 4 classes); both models reach ~90%+. */
const MIN_ACCURACY = 0.6;
const GRU_FIXTURE = join(FIXTURE_MODELS_DIR, 'gru_classifier.onnx');

async function train(model: Model): Promise<{ session: TrainingSession; accuracy: number }> {
  const session = await TrainingSession.create(model, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr: 1e-2 },
    threads: 1,
    seed: 1,
  });
  await fit(session, data, { epochs: 5, batchSize: 32, lr: 1e-2, seed: 1 });
  return { session, accuracy: (await evaluate(session, data)).accuracy };
}

describe('GRU sequence classifiers train on the order-and-sum task', () => {
  it('nn: GRU(16) + Dense(4), unrolled into primitive ops', async () => {
    const model = new Sequential(data.shape, [new GRU(16), new Dense(SEQUENCE_CLASSES)]).build({ seed: 1 });
    const before = await evaluate(model, data);
    const { session, accuracy } = await train(model);
    await session.release();
    console.log(
      `nn GRU: test accuracy ${before.accuracy.toFixed(3)} before, ${accuracy.toFixed(3)} after training (chance ${CHANCE})`,
    );
    expect(accuracy).toBeGreaterThan(MIN_ACCURACY);
  });

  it.skipIf(!existsSync(GRU_FIXTURE))(
    'imported from PyTorch (ONNX GRU node, lowered for training, saved back fused)',
    async () => {
      const source = loadModel(GRU_FIXTURE);
      expect(hasRecurrent(source)).toBe(true);
      const lowered = await lowerRecurrentFor(source, {
        input: { dtype: 'float32', dims: [2, 5, 8], data: data.train.x.slice(0, 80) },
      });
      const before = await evaluate(source, data);
      const { session, accuracy } = await train(lowered);
      const trained = transferParameters(source, session.exportModel()).model;
      await session.release();
      console.log(
        `PyTorch GRU fixture: test accuracy ${before.accuracy.toFixed(3)} before, ${accuracy.toFixed(3)} after training (chance ${CHANCE})`,
      );
      expect(accuracy).toBeGreaterThan(MIN_ACCURACY);
      // The saved model keeps PyTorch's fused GRU node and scores the same with the trained weights.
      expect(hasRecurrent(trained)).toBe(true);
      const fused = await evaluate(trained, data);
      expect(fused.accuracy).toBeCloseTo(accuracy, 2);
    },
  );
});
