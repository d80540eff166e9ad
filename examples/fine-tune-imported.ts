/**
 * Fine-tune a model exported by another framework (here PyTorch's ONNX export of a small CNN) on a
 * shifted domain: the same Fashion-MNIST classes photographed with inverted contrast, which the
 * imported model gets mostly wrong. The second convolution stays frozen; the other layers adapt.
 * verge differentiates the imported ONNX graph itself and trains it on onnxruntime.
 *
 *   npx tsx examples/fine-tune-imported.ts <model.onnx> [--steps 150] [--out tuned.onnx]
 *   (test/fixtures/models/seed_cnn_fmnist.onnx is such an export)
 *
 * The last line printed is a JSON summary.
 */
import { parseArgs } from 'node:util';
import { TrainingSession, fit, evaluate, loadModel, saveModel, modelInfo } from 'verge-edge';
import { loadFashionMnist, type Dataset, type Split } from 'verge-edge/data';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { steps: { type: 'string', default: '150' }, out: { type: 'string' } },
});
if (positionals.length !== 1) {
  console.error('usage: fine-tune-imported.ts <model.onnx> [--steps N] [--out tuned.onnx]');
  process.exit(2);
}
const imported = loadModel(positionals[0]!);
const info = modelInfo(imported);
console.log(
  `imported ${positionals[0]}: opset ${info.opset}, ${info.parameters} parameters, produced by ${info.producer || 'an unknown tool'}`,
);

/** The new domain: pixel values inverted (x in [0, 1] becomes 1 - x). */
function inverted(s: Split): Split {
  return { ...s, x: s.x.map((v) => 1 - v) };
}
const original = loadFashionMnist({ train: 2000, test: 500 });
const shifted: Dataset = {
  ...original,
  name: 'fashion-mnist-inverted',
  train: inverted(original.train),
  test: inverted(original.test),
};

const before = await evaluate(imported, shifted);
console.log(`before: ${(before.accuracy * 100).toFixed(1)}% on inverted images`);

const FROZEN = /^net\.3\./; // the second convolution of the PyTorch Sequential
const session = await TrainingSession.create(imported, {
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', lr: 1e-3 },
  frozen: (param) => FROZEN.test(param),
});
await fit(session, shifted, {
  steps: Number(args.steps),
  batchSize: 64,
  onProgress: (p) => {
    if (p.globalStep % 50 === 0) console.log(`  step ${p.globalStep}/${p.totalSteps}: loss ${p.loss.toFixed(3)}`);
  },
});
const tuned = session.exportModel();
await session.release();
const after = await evaluate(tuned, shifted);
const unchanged = (await evaluate(tuned, original)).accuracy;
console.log(
  `after: ${(after.accuracy * 100).toFixed(1)}% on inverted images (${(unchanged * 100).toFixed(1)}% on the original ones)`,
);
if (args.out)
  console.log(`saved ${args.out} (${saveModel(tuned, args.out)} bytes, opset ${modelInfo(tuned).opset} as imported)`);
console.log(
  JSON.stringify({
    before: before.accuracy,
    after: after.accuracy,
    original: unchanged,
    opset: modelInfo(tuned).opset,
  }),
);
