/** `verge data <name|path> [--json]`: what a dataset holds, where it was read from, what was skipped, and cleaning checks. */
import { inspectDataset } from '../../data/browser.ts';
import { describeDataset, loadDataset } from '../../data/index.ts';
import { sourceOptionsFrom, type DataFlags } from '../data-options.ts';
import { emit } from '../output.ts';

interface DataOptions extends DataFlags {
  json?: boolean;
  limitTrain?: number;
  limitTest?: number;
}

export default async function data(spec: string, opts: DataOptions): Promise<void> {
  const ds = await loadDataset(spec, {
    ...sourceOptionsFrom(opts),
    limits: { train: opts.limitTrain, test: opts.limitTest },
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
}
