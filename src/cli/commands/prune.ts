/**
 * `verge prune <in> --sparsity F [--structured] [--data D --finetune-epochs N] --out <out> [--json]`:
 * magnitude pruning stored as sparse initializers, or structured filter pruning that yields a
 * smaller dense model; optional fine-tuning on a dataset, with accuracy before and after.
 */
import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { loadDataset } from '../../data/load-dataset.ts';
import type { Dataset } from '../../data/dataset.ts';
import { encodeModel } from '../../onnx/codec.ts';
import { loadModel, readBytes, writeFileAtomic } from '../../onnx/io.ts';
import type { Model } from '../../onnx/ir.ts';
import { Session } from '../../runtime/session.ts';
import { measureAccuracy } from '../../optimize/measure.ts';
import {
  finetune,
  FILTER_FINETUNE_LR,
  FILTER_FINETUNE_SCHEDULE,
  FINETUNE_LR,
  pruneFiltersWithFinetune,
  type FinetuneResult,
} from '../../optimize/prune/finetune.ts';
import { pruneMagnitude, pruningMasks, type PruneScope } from '../../optimize/prune/magnitude.ts';
import {
  densifySparseInitializers,
  toSparseInitializers,
  type SparseIndexLayout,
} from '../../optimize/prune/sparse-storage.ts';
import { pruneFilters, type FilterNorm, type FilterPruneReport } from '../../optimize/prune/structured.ts';
import { describeSchedule, parseSchedule } from '../../train/schedules.ts';
import {
  addFinetuneOptions,
  parseFinetuneOptions,
  parseNumber as num,
  type FinetuneCliOptions,
} from '../finetune-options.ts';
import { emit, note, progressBar, table } from '../output.ts';

interface PruneCliOptions extends FinetuneCliOptions {
  sparsity: string;
  structured?: boolean;
  norm: string;
  scope: string;
  layout: string;
  lr?: string;
  schedule?: string;
  stages?: string;
  seed: string;
  out: string;
  json?: boolean;
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v))
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

async function accuracyOf(model: Model, data: Dataset, threads: number): Promise<number> {
  const s = await Session.create(encodeModel(model), { threads });
  try {
    const inits = new Set(model.graph.initializers.map((t) => t.name));
    const input = model.graph.inputs.find((i) => !inits.has(i.name))!.name;
    return (await measureAccuracy(s, input, data.test, data.shape)).accuracy;
  } finally {
    await s.release();
  }
}

export function register(program: Command): void {
  const command = program
    .command('prune')
    .description(
      'prune a model: unstructured magnitude pruning (sparse initializers) or structured filter pruning (smaller dense model)',
    )
    .argument('<in>', 'input ONNX model')
    .requiredOption(
      '--sparsity <f>',
      'fraction to prune, in [0, 1): of weights (unstructured) or of filters/units per layer (--structured)',
    )
    .option(
      '--structured',
      'remove whole Conv filters and Gemm/MatMul units (layers joined by residual Adds lose the same channels) and rewire their consumers',
    )
    .option('--norm <n>', 'structured: filter ranking norm, l1 or l2', 'l1')
    .option(
      '--scope <s>',
      "unstructured: 'global' (one magnitude threshold over all layers) or 'layer' (same sparsity in each)",
      'global',
    )
    .option(
      '--layout <l>',
      "unstructured: sparse index layout, 'compact' (int16 indices, smallest; onnxruntime loads it) or 'int64' (what the ONNX checker accepts)",
      'compact',
    )
    .option(
      '--data <name|dir>',
      'dataset to fine-tune on and to report accuracy before/after (fashion-mnist, a folder of .npy, an .npz)',
    );
  addFinetuneOptions(
    command,
    'fine-tuning epochs on --data (unstructured: gradual pruning on the polynomial schedule while training)',
  )
    .option(
      '--lr <x>',
      `fine-tuning Adam learning rate (default ${FINETUNE_LR} unstructured, ${FILTER_FINETUNE_LR} structured)`,
    )
    .option(
      '--schedule <s>',
      `fine-tuning learning-rate schedule: constant | step:<steps>[:<gamma>] | cosine[:<min_lr>], +warmup:<steps> (default constant unstructured, ${describeSchedule(FILTER_FINETUNE_SCHEDULE)} structured)`,
    )
    .option(
      '--stages <list>',
      'structured: comma-separated intermediate ratios pruned first, each followed by one fine-tune epoch (e.g. 0.25)',
    )
    .option('--threads <n>', 'onnxruntime threads', '2')
    .option('--seed <s>', 'seed of the fine-tuning shuffles', '0')
    .requiredOption('--out <file>', 'output ONNX model (written atomically)')
    .option(
      '--json',
      'print one JSON object: {mode, sparsity, bytes_in, bytes_out, ratio, layers, accuracy_before, accuracy_after, finetune}',
    )
    .action(async (input: string, opts: PruneCliOptions) => {
      const sparsity = num('--sparsity', opts.sparsity);
      if (!(sparsity >= 0 && sparsity < 1))
        throw new VergeError('E_BAD_ARGUMENT', `--sparsity must be in [0, 1), got ${sparsity}`);
      const norm = oneOf<FilterNorm>('--norm', opts.norm, ['l1', 'l2']);
      const scope = oneOf<PruneScope>('--scope', opts.scope, ['global', 'layer']);
      const layout = oneOf<SparseIndexLayout>('--layout', opts.layout, ['compact', 'int64']);
      const { epochs, samples, threads } = parseFinetuneOptions(opts);
      const lr = opts.lr !== undefined ? num('--lr', opts.lr) : undefined;
      if (lr !== undefined && !(lr > 0)) throw new VergeError('E_BAD_ARGUMENT', `--lr must be positive, got ${lr}`);
      const schedule = opts.schedule !== undefined ? parseSchedule(opts.schedule) : undefined;
      const stages = (opts.stages ?? '')
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
        .map((v) => num('--stages', v));
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
          seed: num('--seed', opts.seed, true),
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
      const stored = opts.structured ? result : toSparseInitializers(result, { layout }).model;
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
          : { scope, layout, sparsity: Math.round(achieved * 1e4) / 1e4 }),
        target_sparsity: sparsity,
        bytes_in: bytesIn,
        bytes_out: bytes.length,
        ratio: Math.round((bytes.length / bytesIn) * 1e4) / 1e4,
        layers,
        ...(skipped ? { skipped } : {}),
        ...(data
          ? { data: { name: data.name, source: data.source, train: data.train.count, test: data.test.count } }
          : {}),
        ...(accuracyBefore !== undefined ? { accuracy_before: accuracyBefore, accuracy_after: accuracyAfter } : {}),
        finetune: ft
          ? {
              epochs,
              steps: ft.steps,
              lr: lr ?? (opts.structured ? FILTER_FINETUNE_LR : FINETUNE_LR),
              schedule: describeSchedule(
                schedule ?? (opts.structured ? FILTER_FINETUNE_SCHEDULE : { kind: 'constant' }),
              ),
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
            : `unstructured (${scope}): ${(achieved * 100).toFixed(1)}% of prunable weights are zero, stored as sparse initializers (${layout})`,
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
          for (const s of skipped as { name: string; reason: string }[])
            lines.push(`kept whole: ${s.name}: ${s.reason}`);
        }
        if (accuracyBefore !== undefined)
          lines.push(
            `accuracy: ${(accuracyBefore * 100).toFixed(2)}% -> ${(accuracyAfter! * 100).toFixed(2)}% on ${data!.test.count} test samples${ft ? ` after ${epochs} fine-tune epoch(s)` : ''}`,
          );
        return lines.join('\n');
      });
    });
}
