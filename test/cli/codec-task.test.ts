/**
 * The learned codec's task-aware objective (src/cli/codec-train.ts): the autoencoder with a frozen
 * classifier applied to its input and to its reconstruction, and the distillation term
 * w · T² · KL(softmax(c(x)/T) ‖ softmax(c(x̂)/T)). Finite-difference check of the term's gradient
 * through the classifier and the decoder into the autoencoder's parameters, and a short training
 * run where the term falls while the exported halves carry none of the classifier. Joint training
 * (task.joint): the same check of the gradient into the trained classifier copy's offsets, and a
 * run where that copy learns (its weights = frozen + scale · offset, the teacher untouched).
 */
import { describe, expect, it } from 'vitest';
import { distillationTerm, jointClassifier, trainAutoencoder, withTaskClassifier } from '../../src/cli/codec-train.ts';
import { rng, type Dataset } from '../../src/data/dataset.ts';
import { Dense, Flatten, ReLU, Reshape, Sequential, Sigmoid } from '../../src/nn/index.ts';
import { GraphBuilder, tensorValueInfo, type Model } from '../../src/onnx/browser.ts';
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

const denseClassifier = () =>
  new Sequential([1, 8, 8], [new Flatten(), new Dense({ units: 5, name: 'out' })]).build({ seed: 2 });

/** 3 epochs of a latent-8 codec on 256 uniform-noise images [1, 8, 8] against `classifier`. */
function shortRun(classifier: Model, joint?: number) {
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
  return trainAutoencoder(data, {
    latent: 8,
    epochs: 3,
    batchSize: 32,
    lr: 5e-3,
    seed: 0,
    threads: 1,
    task: { classifier, weight: 1, temperature: 2, ...(joint !== undefined ? { joint } : {}) },
  });
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

  it('joint: the gradient into the trained copy of the classifier matches finite differences', async () => {
    const { ae, clf } = tiny(4);
    const { model, onInput, onDecoded } = withTaskClassifier(ae, clf, 0.5);
    const g = new GraphBuilder(model.graph);
    const term = distillationTerm(onInput, onDecoded, 0.7, 2).build({ g } as unknown as LossTermContext);
    model.graph.outputs = [tensorValueInfo(term, 'float32', [])];
    const r = rng(6);
    const x = Float32Array.from({ length: 3 * 16 }, () => r());
    const offsets = model.graph.initializers.filter((t) => t.name.startsWith('task_delta/')).map((t) => t.name);
    // one offset per float parameter of the classifier, starting at zero
    expect(offsets.sort()).toEqual(clf.graph.initializers.map((t) => `task_delta/${t.name}`).sort());
    const results = await checkGradients(
      model,
      { [model.graph.inputs[0]!.name]: { dtype: 'float32', dims: [3, ...SHAPE], data: x } },
      [...offsets, ae.graph.initializers[0]!.name],
      { maxElements: 12 },
    );
    for (const res of results) expect(res.failures, res.name).toEqual([]);
  }, 120_000);

  it('joint: the copy on the reconstruction learns, the frozen teacher does not', async () => {
    const clf8 = denseClassifier();
    const before = clf8.graph.initializers.map((t) => Float32Array.from(t.data as Float32Array));
    const trained = await shortRun(clf8, 0.5);
    const task = trained.history.map((h) => h.task!);
    expect(task.at(-1)!).toBeLessThan(task[0]!);
    const joint = trained.classifier!;
    expect(joint.graph.nodes).toEqual(clf8.graph.nodes);
    expect(joint.graph.initializers.map((t) => t.name)).toEqual(clf8.graph.initializers.map((t) => t.name));
    // the given classifier (the teacher's weights) is not modified; the copy moved away from it
    clf8.graph.initializers.forEach((t, i) => expect(t.data).toEqual(before[i]));
    const moved = joint.graph.initializers.map((t, i) =>
      Math.max(...Array.from(t.data as Float32Array, (v, j) => Math.abs(v - before[i]![j]!))),
    );
    expect(Math.max(...moved)).toBeGreaterThan(1e-3);
    for (const half of [trained.encoder, trained.decoder])
      expect(half.graph.initializers.some((t) => t.name.startsWith('task_'))).toBe(false);
  }, 120_000);

  it('jointClassifier: frozen weights plus scale × the trained offsets, float32', () => {
    const clf = new Sequential([1, 2, 2], [new Flatten(), new Dense({ units: 2, name: 'out' })]).build({ seed: 1 });
    const trained = {
      ...clf,
      graph: {
        ...clf.graph,
        initializers: clf.graph.initializers.map((t) => ({
          ...t,
          name: `task_delta/${t.name}`,
          data: Float32Array.from(t.data as Float32Array, (_, i) => i + 1),
        })),
      },
    };
    const joint = jointClassifier(clf, trained, 0.25);
    joint.graph.initializers.forEach((t, k) => {
      const w = clf.graph.initializers[k]!.data as Float32Array;
      expect(Array.from(t.data as Float32Array)).toEqual(
        Array.from(w, (v, i) => Math.fround(v + Math.fround(0.25 * (i + 1)))),
      );
    });
  });

  it('training lowers the term; the halves keep none of the classifier', async () => {
    const trained = await shortRun(denseClassifier());
    const task = trained.history.map((h) => h.task!);
    expect(task.every((t) => Number.isFinite(t) && t >= 0)).toBe(true);
    expect(task.at(-1)!).toBeLessThan(task[0]!);
    for (const half of [trained.encoder, trained.decoder]) {
      expect(half.graph.initializers.some((t) => t.name.startsWith('task_'))).toBe(false);
      expect(half.graph.nodes.some((nd) => nd.name.startsWith('task_'))).toBe(false);
    }
  }, 120_000);
});
