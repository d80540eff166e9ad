/** `verge data <name|path> [--json]`: what a dataset holds, where it was read from, what was skipped, and cleaning checks. */
import type { Command } from 'commander';
import { inspectDataset } from '../../data/cleaning.ts';
import { describeDataset, loadDataset } from '../../data/load-dataset.ts';
import { DATA_SOURCES } from '../../data/sources/index.ts';
import { addDataFlags, sourceOptionsFrom, type DataFlags } from '../data-options.ts';
import { emit } from '../output.ts';
import { positiveInt } from './run.ts';

interface DataOptions extends DataFlags {
  json?: boolean;
  limitTrain?: string;
  limitTest?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('data')
    .description(
      'describe a dataset: where it was read from, what was skipped, its shape and classes, and cleaning checks',
    )
    .argument('<name|path>', 'a built-in dataset name or a file/folder in one of the formats below')
    .addHelpText(
      'after',
      `\nFormats (--format NAME to force one):\n${DATA_SOURCES.map((s) => `  ${s.name.padEnd(14)} ${s.summary}`).join('\n')}`,
    )
    .option('--limit-train <n>', 'read at most this many training samples')
    .option('--limit-test <n>', 'read at most this many test samples');
  addDataFlags(cmd)
    .option(
      '--json',
      'print one JSON object: {name, source, format, train, test, shape, classes, class_names, read, skipped, notes, cleaning}',
    )
    .action(async (spec: string, opts: DataOptions) => {
      const ds = await loadDataset(spec, {
        ...sourceOptionsFrom(opts),
        limits: {
          train: positiveInt('--limit-train', opts.limitTrain),
          test: positiveInt('--limit-test', opts.limitTest),
        },
      });
      const cleaning = inspectDataset(ds);
      const report = {
        name: ds.name,
        source: ds.source,
        format: ds.report!.format,
        train: ds.train.count,
        test: ds.test.count,
        shape: ds.shape,
        dtype: ds.inputDtype ?? 'float32',
        classes: ds.classes,
        ...(ds.classNames ? { class_names: ds.classNames } : {}),
        ...(ds.targetShape ? { target_shape: ds.targetShape } : {}),
        train_label_counts: cleaning.train_label_counts,
        read: ds.report!.read,
        skipped: ds.report!.skipped,
        notes: ds.report!.notes,
        cleaning,
      };
      emit(opts, report, () =>
        [
          describeDataset(ds),
          `format: ${report.format}; read ${Object.entries(report.read)
            .map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`)
            .join(', ')}`,
          ...report.notes.map((n) => `note: ${n}`),
          ...(ds.targetShape ? [] : [`train labels per class: ${cleaning.train_label_counts.join(' ')}`]),
          ...(cleaning.warnings.length
            ? cleaning.warnings.map((w) => `warning: ${w}`)
            : ['cleaning: no NaN/inf samples, no duplicates, every class has enough samples']),
        ].join('\n'),
      );
    });
}
