/**
 * The `verge optimize` sweep: build every compressed variant of a model (graph passes, fp16,
 * dynamic and static int8, unstructured and structured pruning with optional fine-tuning, the
 * combinations with int8, weight-only n-bit), then measure them all side by side.
 */
import type { Dataset } from '../data/browser.ts';
import type { Model } from '../onnx/browser.ts';
import { optimizeGraph } from './passes/pipeline.ts';
import { finetune, pruneFiltersWithFinetune } from './prune/finetune.ts';
import { pruneMagnitude } from './prune/magnitude.ts';
import { densifySparseInitializers, toSparseInitializers } from './prune/sparse-storage.ts';
import { pruneFilters } from './prune/structured.ts';
import { calibrationFromSplit, DEFAULT_CALIBRATION_SAMPLES } from './quantize/calibration-data.ts';
import { quantizeDynamic } from './quantize/dynamic.ts';
import { convertToFloat16 } from './quantize/fp16.ts';
import { quantizeStaticCalibrated } from './quantize/static.ts';
import { quantizeWeightBits } from './quantize/weight-bits.ts';
import type { QuantizeResult } from './quantize/common.ts';
import { measureVariants, type MeasureOptions, type ModelVariant, type VariantMeasurement } from './measure.ts';
import { SWEEP_DEFAULTS, VARIANT_NAMES, type VariantName } from './defaults.ts';

export { SWEEP_DEFAULTS, VARIANT_NAMES, type VariantName };

export interface SweepOptions {
  sparsity?: number;
  filterRatio?: number;
  bits?: number;
  /** Fine-tuning epochs for the pruned variants (0: prune only). */
  finetuneEpochs?: number;
  /** Fine-tune on at most this many training samples per epoch. */
  finetuneSamples?: number;
  calibSamples?: number;
  /** Which variants to build (default all). */
  only?: VariantName[];
  threads?: number;
  seed?: number;
  onProgress?: (message: string) => void;
}

export interface BuiltVariant extends ModelVariant {
  /** Details of how it was made (pruning/quantization reports, fine-tuning history). */
  details: Record<string, unknown>;
}

async function staticInt8(model: Model, data: Dataset, samples: number): Promise<QuantizeResult> {
  const calib = calibrationFromSplit(model, data.train, data.shape, samples, `${data.source} (train)`);
  return quantizeStaticCalibrated(model, calib, { method: 'minmax', perChannel: true });
}

/**
 * Build the variants of the sweep (no measuring).
 * Long because: one independent `if (want.has(…))` block per variant of the sweep, each short.
 */
export async function buildVariants(source: Model, data: Dataset, opts: SweepOptions = {}): Promise<BuiltVariant[]> {
  const want = new Set<VariantName>(opts.only ?? VARIANT_NAMES);
  const say = opts.onProgress ?? (() => {});
  const sparsity = opts.sparsity ?? SWEEP_DEFAULTS.sparsity;
  const ratio = opts.filterRatio ?? SWEEP_DEFAULTS.filterRatio;
  const bits = opts.bits ?? SWEEP_DEFAULTS.bits;
  const epochs = opts.finetuneEpochs ?? 0;
  const calibSamples = opts.calibSamples ?? DEFAULT_CALIBRATION_SAMPLES;
  const out: BuiltVariant[] = [];

  say('graph passes');
  const { model: base, passes } = await optimizeGraph(densifySparseInitializers(source));
  // fp32 is always built: every ratio in the report is relative to it.
  out.push({
    name: 'fp32',
    precision: 'fp32',
    description: 'graph passes only (reference)',
    model: base,
    details: { passes },
  });

  if (want.has('fp16')) {
    say('fp16');
    const r = await convertToFloat16(base, {});
    out.push({
      name: 'fp16',
      precision: 'fp16',
      description: 'float16 weights and compute, float32 I/O',
      model: r.model,
      details: { quantize: r.report },
    });
  }
  if (want.has('int8-dynamic')) {
    say('dynamic int8');
    const r = await quantizeDynamic(base, { perChannel: true });
    out.push({
      name: 'int8-dynamic',
      precision: 'int8',
      description: 'int8 weights, activations quantized at run time',
      model: r.model,
      details: { quantize: r.report },
    });
  }
  if (want.has('int8-static')) {
    say('static int8 (calibrating)');
    const r = await staticInt8(base, data, calibSamples);
    out.push({
      name: 'int8-static',
      precision: 'int8',
      description: `int8 QDQ, per-channel weights, min-max calibration on ${calibSamples} training samples`,
      model: r.model,
      details: { quantize: r.report },
    });
  }

  const finetuneOpts = (label: string) => ({
    epochs,
    threads: opts.threads,
    seed: opts.seed,
    maxSamples: opts.finetuneSamples,
    onProgress: (step: number, total: number, loss: number) => {
      if (step % 100 === 0 || step === total)
        say(`fine-tuning ${label}: step ${step}/${total} loss ${loss.toFixed(4)}`);
    },
  });

  if (want.has('pruned') || want.has('pruned+int8')) {
    say(`unstructured pruning to ${sparsity}`);
    let pruned: Model;
    let history: unknown = [];
    if (epochs > 0) {
      const r = await finetune(base, data.train, data.shape, { ...finetuneOpts('pruned'), gradual: { sparsity } });
      pruned = r.model;
      history = r.history;
    } else {
      pruned = pruneMagnitude(base, { sparsity }).model;
    }
    const sparse = toSparseInitializers(pruned);
    const pct = Math.round(sparsity * 100);
    if (want.has('pruned')) {
      out.push({
        name: 'pruned',
        precision: 'fp32',
        description: `${pct}% magnitude sparsity (global), ${sparse.report.stored === 'dense' ? 'stored dense (opset below 9)' : `${sparse.report.stored} layout`}${epochs ? `, gradual + ${epochs} fine-tune epoch(s)` : ', no fine-tuning'}`,
        model: sparse.model,
        details: { sparsity, finetune_epochs: epochs, history, sparse: sparse.report },
      });
    }
    if (want.has('pruned+int8')) {
      say('static int8 of the pruned model');
      const r = await staticInt8(pruned, data, calibSamples);
      const q = toSparseInitializers(r.model);
      out.push({
        name: 'pruned+int8',
        precision: 'int8',
        description: `${pct}% sparse, then static int8; ${q.report.stored === 'dense' ? 'stored dense (opset below 9)' : `int8 weights in the ${q.report.stored} layout`}`,
        model: q.model,
        details: { quantize: r.report, sparse: q.report },
      });
    }
  }

  if (want.has('filters') || want.has('filters+int8')) {
    say(`structured pruning of ${ratio} of filters`);
    let { model, report } = pruneFilters(base, { ratio, norm: 'l1' });
    let history: unknown = [];
    if (epochs > 0) {
      // Structured fine-tuning's own recipe (Adam 1e-3, cosine decay; see prune/finetune.ts).
      const r = await pruneFiltersWithFinetune(base, data.train, data.shape, {
        ...finetuneOpts('filters'),
        ratio,
        norm: 'l1',
      });
      ({ model, report } = r);
      history = r.history;
    }
    const pct = Math.round(ratio * 100);
    if (want.has('filters')) {
      out.push({
        name: 'filters',
        precision: 'fp32',
        description: `${pct}% of Conv filters / Gemm units removed (L1)${epochs ? `, ${epochs} fine-tune epoch(s)` : ', no fine-tuning'}`,
        model,
        details: { prune: report, finetune_epochs: epochs, history },
      });
    }
    if (want.has('filters+int8')) {
      say('static int8 of the filter-pruned model');
      const r = await staticInt8(model, data, calibSamples);
      out.push({
        name: 'filters+int8',
        precision: 'int8',
        description: `${pct}% filters removed, then static int8`,
        model: r.model,
        details: { quantize: r.report },
      });
    }
  }

  if (want.has('weight-bits')) {
    say(`weight-only ${bits}-bit`);
    const r = quantizeWeightBits(base, { bits, scheme: 'affine' });
    out.push({
      name: 'weight-bits',
      precision: 'fp32',
      description: `${bits}-bit weights (affine, per channel), dequantized at load; fp32 compute`,
      model: r.model,
      details: { quantize: r.report },
    });
  }
  return out;
}

export interface SweepResult {
  variants: BuiltVariant[];
  measurements: VariantMeasurement[];
}

export async function runSweep(
  source: Model,
  data: Dataset,
  opts: SweepOptions & MeasureOptions = {},
): Promise<SweepResult> {
  const variants = await buildVariants(source, data, opts);
  const measurements = await measureVariants(variants, data.test, data.shape, opts);
  return { variants, measurements };
}
