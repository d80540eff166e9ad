import { describe, expect, it } from 'vitest';
import { meanStd } from '../../src/data/dataset.ts';
import { loadFashionMnist } from '../../src/data/sources/fashion-mnist.ts';
import { architecture, architectureNames, buildArchitecture, TOKEN_ARCHITECTURES } from '../../src/nn/index.ts';
import { rng } from '../../src/data/dataset.ts';
import { lowerRecurrentFor } from '../../src/train/lower/parameters.ts';
import { Session } from '../../src/runtime/session.ts';
import { fit } from '../../src/train/fit.ts';
import { TrainingSession } from '../../src/train/session.ts';
import { fixtureMeta } from '../fixtures/index.ts';

const data = loadFashionMnist({ train: 256, test: 10 });
const standardize = meanStd(data.train.x);

describe('built-in architectures', () => {
  it('cnn has exactly the parameters of the PyTorch seed CNN fixture', () => {
    const net = architecture('cnn', { inputShape: [1, 28, 28], classes: 10 });
    expect(net.paramCount()).toBe(fixtureMeta('seed_cnn').pytorch_parameters);
    expect(net.paramCount()).toBe(121_930);
  });

  it('mobilenet-tiny is depthwise-separable', () => {
    const model = buildArchitecture('mobilenet-tiny', { inputShape: [1, 28, 28], classes: 10 });
    const convs = model.graph.nodes.filter((n) => n.opType === 'Conv');
    const depthwise = convs.filter((n) => n.attributes.group?.type === 'int' && n.attributes.group.value > 1);
    expect(depthwise).toHaveLength(3);
    expect(convs.length).toBe(7);
  });

  it('unknown names fail with the list of known ones', () => {
    expect(() => buildArchitecture('vgg', { inputShape: [1, 28, 28], classes: 10 })).toThrow(
      /unknown architecture 'vgg' \(known: cnn, mlp, mobilenet-tiny, gru, text-gru, text-lstm, text-cnn, text-bow, kws-cnn, kws-dscnn\)/,
    );
    expect(() => buildArchitecture('cnn', { inputShape: [784], classes: 10 })).toThrow(/needs image samples/);
    expect(() => buildArchitecture('text-cnn', { inputShape: [1, 28, 28], classes: 10 })).toThrow(
      /needs token sequences/,
    );
    expect(() => buildArchitecture('kws-dscnn', { inputShape: [3, 28, 28], classes: 10 })).toThrow(
      /needs speech feature windows \[1, frames, features\]/,
    );
  });

  it.each(architectureNames().filter((n) => !TOKEN_ARCHITECTURES.includes(n)))(
    '%s runs on onnxruntime and a few training steps lower its loss',
    async (name) => {
      const model = buildArchitecture(name, { inputShape: data.shape, classes: data.classes, seed: 1, standardize });
      expect(model.graph.inputs[0]!.name).toBe('input');
      expect(model.graph.inputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch', 1, 28, 28] });
      expect(model.graph.outputs[0]!.name).toBe('logits');
      const ort = await Session.create(model, { threads: 1 });
      const y = (
        await ort.run({ input: { dtype: 'float32', dims: [3, 1, 28, 28], data: data.train.x.slice(0, 3 * 784) } })
      ).logits!;
      await ort.release();
      expect(y.dims).toEqual([3, 10]);
      const s = await TrainingSession.create(model, {
        loss: 'cross-entropy',
        optimizer: { kind: 'adam' },
        threads: 1,
        seed: 1,
      });
      // Two passes over the same 256 samples: the second epoch's mean loss is lower.
      const r = await fit(s, data, { epochs: 2, batchSize: 32, lr: 3e-3, seed: 1 });
      await s.release();
      expect(r.history[1]!.loss).toBeLessThan(r.history[0]!.loss);
    },
  );

  /** A toy text task: label 1 when token 7 occurs in the sequence. Fed as int64 ids. */
  function tokens(n: number, length: number, seed: number): { x: BigInt64Array; y: Int32Array } {
    const r = rng(seed);
    const x = new BigInt64Array(n * length);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < length; t++) x[i * length + t] = BigInt(2 + Math.floor(r() * 18));
      y[i] = r() < 0.5 ? 1 : 0;
      if (y[i]) x[i * length + Math.floor(r() * length)] = 7n;
      else for (let t = 0; t < length; t++) if (x[i * length + t] === 7n) x[i * length + t] = 8n;
    }
    return { x, y };
  }

  it.each(TOKEN_ARCHITECTURES)('%s takes int64 token ids, runs on onnxruntime and learns a toy task', async (name) => {
    const length = 12;
    const model = buildArchitecture(name, { inputShape: [length], classes: 2, vocabSize: 20, seed: 1 });
    expect(model.graph.inputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'int64', shape: ['batch', length] });
    const { x, y } = tokens(64, length, 3);
    const input = { dtype: 'int64' as const, dims: [64, length], data: x };
    const ort = await Session.create(model, { threads: 1 });
    expect((await ort.run({ input })).logits!.dims).toEqual([64, 2]);
    await ort.release();
    const trainable = await lowerRecurrentFor(model, { input });
    const s = await TrainingSession.create(trainable, {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-2 },
      threads: 1,
      seed: 1,
    });
    const labels = { dtype: 'int32' as const, dims: [64], data: y };
    const first = (await s.step({ input }, labels)).loss;
    let last = first;
    for (let i = 0; i < 15; i++) last = (await s.step({ input }, labels)).loss;
    await s.release();
    expect(last).toBeLessThan(first * 0.8);
  });
});
