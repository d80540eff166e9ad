/**
 * `verge prune <in> --sparsity F [--structured] [--data D --finetune-epochs N] --out <out> [--json]`:
 * magnitude pruning stored as sparse initializers, or structured filter pruning that yields a
 * smaller dense model; optional fine-tuning on a dataset, with accuracy before and after.
 */
import { VergeError } from '../../errors.ts';
import { loadDataset } from '../../data/index.ts';
import type { Dataset } from '../../data/browser.ts';
import { encodeModel, singleDataInput, type Model } from '../../onnx/browser.ts';
import { loadModel, readBytes, writeFileAtomic } from '../../onnx/index.ts';
import { Session } from '../../runtime/index.ts';
import {
  measureAccuracy,
  finetune,
  FILTER_FINETUNE_LR,
  FILTER_FINETUNE_SCHEDULE,
  FINETUNE_LR,
  pruneFiltersWithFinetune,
  type FinetuneResult,
  pruneMagnitude,
  pruningMasks,
  type PruneScope,
  densifySparseInitializers,
  toSparseInitializers,
  type SparseIndexLayout,
  pruneFilters,
  type FilterNorm,
  type FilterPruneReport,
} from '../../optimize/index.ts';
import { describeSchedule, parseSchedule } from '../../train/index.ts';
import { checkFinetuneOptions, type FinetuneCliOptions } from '../finetune-options.ts';
import { emit, note, progressBar, table } from '../output.ts';

interface PruneCliOptions extends FinetuneCliOptions {
  sparsity: number;
  structured?: boolean;
  norm: FilterNorm;
  scope: PruneScope;
  layout: SparseIndexLayout;
  lr?: number;
  schedule?: string;
  stages?: number[];
  seed: number;
  out: string;
  json?: boolean;
}

async function accuracyOf(model: Model, data: Dataset, threads: number): Promise<number> {
  const s = await Session.create(encodeModel(model), { threads });
  try {
    const input = singleDataInput(model.graph, 'measuring accuracy').name;
    return (await measureAccuracy(s, input, data.test, data.shape)).accuracy;
  } finally {
    await s.release();
  }
}

/**
 * `verge prune <in> --sparsity F … --out F`
 * Long because: the steps of `verge prune` in order (flag checks, data, accuracy before,
 * structured or unstructured pruning with fine-tuning, accuracy after, check, write, report);
 * naming those steps as functions is still to do.
 */
export default async function prune(input: string, opts: PruneCliOptions): Promise<void> {
  const { sparsity, norm, scope, layout, lr, threads } = opts;
  checkFinetuneOptions(opts);
  const epochs = opts.finetuneEpochs;
  const samples = opts.finetuneSamples;
  const schedule = opts.schedule !== undefined ? parseSchedule(opts.schedule) : undefined;
  const stages = opts.stages ?? [];
  if (stages.length > 0 && !opts.structured)
    throw new VergeError('E_BAD_ARGUMENT', '--stages applies to --structured pruning only');
  if (stages.length > 0 && epochs <= stages.length)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--stages ${stages.join(',')} needs --finetune-epochs > ${stages.length} (one epoch per stage, then the final ratio)`,
    );
  if (stages.some((r, k) => !(r > (k ? stages[k - 1]! : 0) && r < sparsity)))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--stages must increase and stay below --sparsity ${sparsity}, got ${stages.join(',')}`,
    );
  const bytesIn = readBytes(input).length;
  const source = densifySparseInitializers(loadModel(input));
  const data = opts.data ? await loadDataset(opts.data) : undefined;
  if (data) note(`data: ${data.name} from ${data.source} (${data.train.count} train, ${data.test.count} test)`);
  const accuracyBefore = data ? await accuracyOf(source, data, threads) : undefined;

  const ftOpts = () => {
    let bar: ReturnType<typeof progressBar> | undefined;
    return {
      epochs,
      lr,
      schedule,
      threads,
      seed: opts.seed,
      maxSamples: samples,
      onProgress: (step: number, total: number, loss: number) => {
        // one bar per fine-tuning run (structured pruning in stages runs one per stage)
        if (step === 1 || !bar) bar = progressBar(total, 'fine-tuning |{bar}| {value}/{total} steps loss {loss}');
        bar.update(step, { loss: loss.toFixed(4) });
        if (step === total) bar.stop();
      },
    };
  };

  let result: Model;
  let layers: unknown;
  let skipped: unknown;
  let ft: FinetuneResult | undefined;
  let achieved: number;
  let stagesRun: unknown;
  if (opts.structured) {
    let report: FilterPruneReport;
    if (epochs > 0) {
      const r = await pruneFiltersWithFinetune(source, data!.train, data!.shape, {
        ...ftOpts(),
        ratio: sparsity,
        norm,
        stages,
      });
      ({ report, stages: stagesRun } = r);
      ft = r;
      result = r.model;
    } else {
      ({ model: result, report } = pruneFilters(source, { ratio: sparsity, norm }));
    }
    layers = report.layers.map(({ removed: _removed, ...l }) => l);
    skipped = report.skipped;
    achieved = 1 - report.parametersAfter / report.parametersBefore;
  } else {
    if (epochs > 0) {
      ft = await finetune(source, data!.train, data!.shape, { ...ftOpts(), gradual: { sparsity, scope } });
      result = ft.model;
    } else {
      result = pruneMagnitude(source, { sparsity, scope }).model;
    }
    const masks = pruningMasks(result);
    let zeros = 0;
    let total = 0;
    for (const m of masks.values()) {
      total += m.length;
      for (const b of m) zeros += b === 0 ? 1 : 0;
    }
    achieved = total ? zeros / total : 0;
    layers = [...masks.entries()].map(([name, m]) => ({
      name,
      elements: m.length,
      sparsity: Math.round((1 - m.reduce((s, b) => s + b, 0) / m.length) * 1e4) / 1e4,
    }));
  }
  const accuracyAfter = data ? await accuracyOf(result, data, threads) : undefined;
  const sparse = opts.structured ? undefined : toSparseInitializers(result, { layout });
  const stored = sparse?.model ?? result;
  const storage = sparse?.report;
  if (storage?.note) note(`note: ${storage.note}`);
  const bytes = encodeModel(stored);
  // Check onnxruntime loads what we are about to write before writing it.
  await (await Session.create(bytes, { threads: 1 })).release();
  writeFileAtomic(opts.out, bytes);
  const summary = {
    in: input,
    out: opts.out,
    mode: opts.structured ? 'structured' : 'unstructured',
    ...(opts.structured
      ? { norm, parameters_removed: Math.round(achieved * 1e4) / 1e4 }
      : {
          scope,
          layout: storage!.stored,
          ...(storage!.note ? { layout_note: storage!.note } : {}),
          sparsity: Math.round(achieved * 1e4) / 1e4,
        }),
    target_sparsity: sparsity,
    bytes_in: bytesIn,
    bytes_out: bytes.length,
    ratio: Math.round((bytes.length / bytesIn) * 1e4) / 1e4,
    layers,
    ...(skipped ? { skipped } : {}),
    ...(data ? { data: { name: data.name, source: data.source, train: data.train.count, test: data.test.count } } : {}),
    ...(accuracyBefore !== undefined ? { accuracy_before: accuracyBefore, accuracy_after: accuracyAfter } : {}),
    finetune: ft
      ? {
          epochs,
          steps: ft.steps,
          lr: lr ?? (opts.structured ? FILTER_FINETUNE_LR : FINETUNE_LR),
          schedule: describeSchedule(schedule ?? (opts.structured ? FILTER_FINETUNE_SCHEDULE : { kind: 'constant' })),
          ...(stagesRun ? { stages: stagesRun } : {}),
          history: ft.history,
        }
      : null,
  };
  emit(opts, summary, () => {
    const lines = [
      `wrote ${opts.out}: ${bytes.length} bytes (${(summary.ratio * 100).toFixed(1)}% of ${bytesIn})`,
      opts.structured
        ? `structured (${norm}): ${(achieved * 100).toFixed(1)}% of parameters removed`
        : `unstructured (${scope}): ${(achieved * 100).toFixed(1)}% of prunable weights are zero, ${storage!.stored === 'dense' ? 'stored dense (the model opset cannot rebuild a mask)' : `stored in the ${storage!.stored} layout`}`,
    ];
    if (opts.structured) {
      lines.push(
        table(
          ['layer', 'op', 'before', 'after'],
          (layers as { name: string; op: string; before: number; after: number }[]).map((l) => [
            l.name,
            l.op,
            l.before,
            l.after,
          ]),
        ),
      );
      for (const s of skipped as { name: string; reason: string }[]) lines.push(`kept whole: ${s.name}: ${s.reason}`);
    }
    if (accuracyBefore !== undefined)
      lines.push(
        `accuracy: ${(accuracyBefore * 100).toFixed(2)}% -> ${(accuracyAfter! * 100).toFixed(2)}% on ${data!.test.count} test samples${ft ? ` after ${epochs} fine-tune epoch(s)` : ''}`,
      );
    return lines.join('\n');
  });
}
