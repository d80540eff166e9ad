/** `verge eval <model.onnx> --data <name|dir> [--json]`: test-split accuracy and loss of a model. */
import type { Command } from 'commander';
import { loadDataset } from '../../data/load-dataset.ts';
import { loadModel } from '../../onnx/io.ts';
import { evaluate, sampleShapeFor } from '../../train/fit.ts';
import { LOSS_KINDS, type LossKind } from '../../train/loss.ts';
import { VergeError } from '../../errors.ts';
import { emit, note } from '../output.ts';
import { positiveInt } from './run.ts';

interface EvalOptions {
  data: string;
  loss: string;
  batch: string;
  limit?: string;
  threads?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description("measure a classifier's accuracy and loss on a dataset's test split (onnxruntime, inference mode)")
    .argument('<model>', 'ONNX model (one input taking the samples, first output = class scores)')
    .requiredOption(
      '--data <name|dir>',
      'dataset: fashion-mnist, a folder with x.npy/y.npy (+ x_test.npy/y_test.npy), or an .npz',
    )
    .option('--loss <name>', `loss to report: ${LOSS_KINDS.join(', ')}`, 'cross-entropy')
    .option('--batch <n>', 'evaluation batch size', '500')
    .option('--limit <n>', 'use at most this many test samples')
    .option('--threads <n>', 'onnxruntime intra-op threads')
    .option('--json', 'print one JSON object: {accuracy, loss, samples, data}')
    .action(async (modelPath: string, opts: EvalOptions) => {
      if (!(LOSS_KINDS as readonly string[]).includes(opts.loss))
        throw new VergeError('E_BAD_ARGUMENT', `--loss must be one of ${LOSS_KINDS.join(', ')}, got '${opts.loss}'`);
      const model = loadModel(modelPath);
      const batchSize = positiveInt('--batch', opts.batch)!;
      const threads = positiveInt('--threads', opts.threads);
      const data = await loadDataset(opts.data, { limits: { train: 1, test: positiveInt('--limit', opts.limit) } });
      note(`data: ${data.name} from ${data.source}: ${data.test.count} test samples`);
      const { input, shape } = sampleShapeFor(model, data);
      const r = await evaluate(model, data, data.test, {
        loss: opts.loss as LossKind,
        batchSize,
        inputShape: shape,
        inputName: input,
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
    });
}
