/**
 * The learned codec's task-aware objective (src/cli/codec-train.ts): the autoencoder with a frozen
 * classifier applied to its input and to its reconstruction, and the distillation term
 * w · T² · KL(softmax(c(x)/T) ‖ softmax(c(x̂)/T)). Finite-difference check of the term's gradient
 * through the classifier and the decoder into the autoencoder's parameters, and a short training
 * run where the term falls while the exported halves carry none of the classifier.
 */
import { describe, expect, it } from 'vitest';
import { distillationTerm, trainAutoencoder, withTaskClassifier } from '../../src/cli/codec-train.ts';
import { rng, type Dataset } from '../../src/data/dataset.ts';
import { Dense, Flatten, ReLU, Reshape, Sequential, Sigmoid } from '../../src/nn/index.ts';
import { GraphBuilder, tensorValueInfo } from '../../src/onnx/browser.ts';
import { checkGradients, type LossTermContext } from '../../src/train/index.ts';

const SHAPE = [1, 4, 4];

function tiny(seed: number) {
  const ae = new Sequential(SHAPE, [
    new Flatten(),
    new Dense({ units: 3, name: 'enc' }),
    new Dense({ units: 16, name: 'dec' }),
    new Sigmoid(),
    new Reshape(SHAPE),
  ]).build({ seed });
  const clf = new Sequential(SHAPE, [
    new Flatten(),
    new Dense({ units: 6, name: 'h' }),
    new ReLU(),
    new Dense({ units: 5, name: 'out' }),
  ]).build({ seed: seed + 1 });
  return { ae, clf };
}

describe('task-aware codec objective', () => {
  it('gradient of the distillation term matches finite differences', async () => {
    const { ae, clf } = tiny(3);
    const { model, onInput, onDecoded } = withTaskClassifier(ae, clf);
    const g = new GraphBuilder(model.graph);
    const term = distillationTerm(onInput, onDecoded, 0.7, 2).build({ g } as unknown as LossTermContext);
    model.graph.outputs = [tensorValueInfo(term, 'float32', [])];
    const r = rng(5);
    const x = Float32Array.from({ length: 3 * 16 }, () => r());
    const params = ae.graph.initializers.filter((t) => t.dtype === 'float32').map((t) => t.name);
    expect(params.length).toBeGreaterThan(0);
    const results = await checkGradients(
      model,
      { [model.graph.inputs[0]!.name]: { dtype: 'float32', dims: [3, ...SHAPE], data: x } },
      params,
      {
        maxElements: 12,
      },
    );
    for (const res of results) expect(res.failures, res.name).toEqual([]);
  }, 120_000);

  it('training lowers the term; the halves keep none of the classifier', async () => {
    const r = rng(9);
    const n = 256;
    const data: Dataset = {
      name: 'noise',
      source: 'test',
      shape: [1, 8, 8],
      classes: 5,
      train: { x: Float32Array.from({ length: n * 64 }, () => r()), y: new Int32Array(n), count: n },
      test: { x: new Float32Array(64), y: new Int32Array(1), count: 1 },
    };
    const clf8 = new Sequential([1, 8, 8], [new Flatten(), new Dense({ units: 5, name: 'out' })]).build({ seed: 2 });
    const trained = await trainAutoencoder(data, {
      latent: 8,
      epochs: 3,
      batchSize: 32,
      lr: 5e-3,
      seed: 0,
      threads: 1,
      task: { classifier: clf8, weight: 1, temperature: 2 },
    });
    const task = trained.history.map((h) => h.task!);
    expect(task.every((t) => Number.isFinite(t) && t >= 0)).toBe(true);
    expect(task.at(-1)!).toBeLessThan(task[0]!);
    for (const half of [trained.encoder, trained.decoder]) {
      expect(half.graph.initializers.some((t) => t.name.startsWith('task_'))).toBe(false);
      expect(half.graph.nodes.some((nd) => nd.name.startsWith('task_'))).toBe(false);
    }
  }, 120_000);
});
