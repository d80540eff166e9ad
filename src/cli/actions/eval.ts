/** `verge eval <model.onnx> --data <name|dir> [--json]`: test-split accuracy and loss of a model. */
import { describeDataset, loadDataset } from '../../data/index.ts';
import { readDataInfo, audioInputOf } from '../../data/browser.ts';
import { loadModel } from '../../onnx/index.ts';
import { evaluate, sampleShapeFor, type LossKind } from '../../train/index.ts';
import { sourceOptionsFrom, type DataFlags } from '../data-options.ts';
import { emit, note } from '../output.ts';

/** Audio models take seconds-long waveforms: their frame tensors are large, so smaller batches. */
const AUDIO_EVAL_BATCH = 32;

interface EvalOptions extends DataFlags {
  data: string;
  loss: LossKind;
  batch?: number;
  limit?: number;
  threads?: number;
  json?: boolean;
}

export default async function evaluateCommand(modelPath: string, opts: EvalOptions): Promise<void> {
  const model = loadModel(modelPath);
  const batchSize = opts.batch ?? (audioInputOf(model) ? AUDIO_EVAL_BATCH : 500);
  const threads = opts.threads;
  // Read the data the way the model's training data was read (tokenizer, image size, encoders).
  const info = readDataInfo(model);
  const data = await loadDataset(opts.data, {
    ...sourceOptionsFrom(opts),
    ...(info?.preprocessing ? { preprocessing: info.preprocessing } : {}),
    ...(info?.classNames ? { classNames: info.classNames } : {}),
    limits: { train: 1, test: opts.limit },
  });
  note(describeDataset(data, { testOnly: true }));
  const { input, shape, classes, warning } = sampleShapeFor(model, data);
  if (warning) note(`warning: ${warning}`);
  const r = await evaluate(model, data, data.test, {
    loss: opts.loss,
    batchSize,
    inputShape: shape,
    inputName: input,
    ...(classes !== undefined ? { classes } : {}),
    ...(threads ? { threads } : {}),
  });
  emit(
    opts,
    {
      accuracy: r.accuracy,
      loss: r.loss,
      samples: r.samples,
      data: { name: data.name, source: data.source, test: data.test.count },
    },
    () =>
      `accuracy ${(100 * r.accuracy).toFixed(2)}%  loss ${r.loss.toFixed(4)}  on ${r.samples} test samples of ${data.name} (${data.source})`,
  );
}
