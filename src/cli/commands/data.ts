/** `verge data <name|dir> [--json]`: what a dataset holds and where it was read from. */
import type { Command } from 'commander';
import { loadDataset } from '../../data/load-dataset.ts';
import { emit } from '../output.ts';
import { positiveInt } from './run.ts';

interface DataOptions {
  json?: boolean;
  limitTrain?: string;
  limitTest?: string;
}

export function register(program: Command): void {
  program
    .command('data')
    .description(
      'describe a dataset: a built-in name (fashion-mnist), a folder with x.npy and y.npy (+ x_test.npy, y_test.npy), or an .npz',
    )
    .argument('<name|dir>', 'dataset name or folder; without x_test/y_test the last 10% of x/y is the test split')
    .option('--limit-train <n>', 'read at most this many training samples')
    .option('--limit-test <n>', 'read at most this many test samples')
    .option('--json', 'print one JSON object: {name, source, train, test, shape, classes, train_label_counts}')
    .action((nameOrDir: string, opts: DataOptions) => {
      const ds = loadDataset(nameOrDir, {
        limits: {
          train: positiveInt('--limit-train', opts.limitTrain),
          test: positiveInt('--limit-test', opts.limitTest),
        },
      });
      const counts = new Array<number>(ds.classes).fill(0);
      for (let i = 0; i < ds.train.count; i++) counts[ds.train.y[i]!]!++;
      const report = {
        name: ds.name,
        source: ds.source,
        train: ds.train.count,
        test: ds.test.count,
        shape: ds.shape,
        classes: ds.classes,
        train_label_counts: counts,
      };
      emit(opts, report, () =>
        [
          `${report.name}: ${report.train} train / ${report.test} test samples of shape [${report.shape.join(', ')}], ${report.classes} classes`,
          `source: ${report.source}`,
          `train labels per class: ${counts.join(' ')}`,
        ].join('\n'),
      );
    });
}
