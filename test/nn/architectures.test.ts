import { describe, expect, it } from 'vitest';
import { meanStd } from '../../src/data/dataset.ts';
import { loadFashionMnist } from '../../src/data/sources/fashion-mnist.ts';
import { architecture, architectureNames, buildArchitecture } from '../../src/nn/index.ts';
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
      /E_BAD_ARGUMENT|unknown architecture 'vgg' \(known: cnn, mlp, mobilenet-tiny, gru\)/,
    );
    expect(() => buildArchitecture('cnn', { inputShape: [784], classes: 10 })).toThrow(/needs image samples/);
  });

  it.each(architectureNames())('%s runs on onnxruntime and a few training steps lower its loss', async (name) => {
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
  });
});
