/**
 * `verge optimize <in> --data D [--target <profile|file.json>] --out-dir <dir> [--json]`: build every
 * compressed variant, measure accuracy, bytes and latency (B=1 and B=32, side by side in one run),
 * write each variant and a report (report.md, report.svg, report.json); with --target, pick the
 * most accurate variant that fits the device profile.
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { loadDataset } from '../../data/load-dataset.ts';
import { encodeModel } from '../../onnx/codec.ts';
import { loadModel, writeFileAtomic } from '../../onnx/io.ts';
import type { Model } from '../../onnx/ir.ts';
import { DEVICE_PROFILES, resolveDeviceProfile } from '../../optimize/device-profiles.ts';
import { DEFAULT_LATENCY_BATCHES, DEFAULT_ROUNDS, DEFAULT_THREADS, measureVariants } from '../../optimize/measure.ts';
import { buildReport, reportMarkdown, reportSvg } from '../../optimize/report.ts';
import { buildVariants, SWEEP_DEFAULTS, VARIANT_NAMES, type VariantName } from '../../optimize/sweep.ts';
import { selectVariant } from '../../optimize/variants.ts';
import { DEFAULT_CALIBRATION_SAMPLES } from '../../optimize/quantize/calibration-data.ts';
import {
  addFinetuneOptions,
  parseFinetuneOptions,
  parseNumber as num,
  type FinetuneCliOptions,
} from '../finetune-options.ts';
import { emit, note, table } from '../output.ts';

interface OptimizeCliOptions extends FinetuneCliOptions {
  data: string;
  target?: string;
  outDir: string;
  samples?: string;
  variants?: string;
  sparsity: string;
  filterRatio: string;
  bits: string;
  calibSamples: string;
  rounds: string;
  json?: boolean;
}

/** The model must take the dataset's samples: fail before minutes of building, not after. */
function checkSampleShape(model: Model, sampleShape: number[], path: string): void {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `${path} has ${inputs.length} inputs; verge optimize measures classifiers with one input`,
    );
  }
  const t = inputs[0]!.type;
  const dims = t?.kind === 'tensor' ? t.shape?.slice(1) : undefined;
  if (!dims) return;
  const fits =
    dims.length === sampleShape.length && dims.every((d, k) => typeof d !== 'number' || d === sampleShape[k]);
  if (!fits) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `${path} input '${inputs[0]!.name}' takes samples of shape [${dims.map((d) => d ?? '?').join(', ')}], the data has [${sampleShape.join(', ')}]`,
    );
  }
}

export function register(program: Command): void {
  const command = program
    .command('optimize')
    .description(
      'compression sweep: build fp32/fp16/int8/pruned/n-bit variants, measure accuracy, size and latency, write them and a report',
    )
    .argument('<in>', 'input ONNX model (a classifier: one float input, logits output)')
    .requiredOption(
      '--data <name|dir>',
      'labelled data: accuracy on its test split, calibration and fine-tuning on its train split',
    )
    .requiredOption(
      '--out-dir <dir>',
      'folder for the variant models and report.md, report.svg, report.json (created if missing)',
    )
    .option(
      '--target <profile>',
      `device profile to select a variant for: ${Object.keys(DEVICE_PROFILES).join(', ')}, or a .json file {name, memory_mb, latency_budget_ms, batch, precisions}`,
    )
    .option('--samples <n>', 'measure accuracy on at most this many test samples (default: all)')
    .option('--variants <list>', `comma-separated subset of: ${VARIANT_NAMES.join(', ')} (fp32 is always built)`)
    .option('--sparsity <f>', 'unstructured pruning sparsity', String(SWEEP_DEFAULTS.sparsity))
    .option(
      '--filter-ratio <f>',
      'structured pruning: fraction of filters/units removed per layer',
      String(SWEEP_DEFAULTS.filterRatio),
    )
    .option('--bits <n>', 'weight-bits variant: bits per weight', String(SWEEP_DEFAULTS.bits));
  addFinetuneOptions(command, 'fine-tune the pruned variants for this many epochs (0: prune only)')
    .option(
      '--calib-samples <n>',
      'static int8 calibration samples from the train split',
      String(DEFAULT_CALIBRATION_SAMPLES),
    )
    .option('--threads <n>', 'onnxruntime threads per session', String(DEFAULT_THREADS))
    .option(
      '--rounds <n>',
      'latency rounds over all variants (5 timed runs per variant and batch size each)',
      String(DEFAULT_ROUNDS),
    )
    .option(
      '--json',
      'print one JSON object: the report (variants with bytes, accuracy, latency and ratios to fp32; target choice)',
    )
    .action(async (input: string, opts: OptimizeCliOptions) => {
      const only = opts.variants
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const v of only ?? []) {
        if (!(VARIANT_NAMES as readonly string[]).includes(v))
          throw new VergeError('E_BAD_ARGUMENT', `unknown variant '${v}' (known: ${VARIANT_NAMES.join(', ')})`);
      }
      const profile = opts.target ? resolveDeviceProfile(opts.target) : undefined;
      const { epochs, samples, threads } = parseFinetuneOptions(opts);
      const model = loadModel(input);
      const data = await loadDataset(opts.data);
      checkSampleShape(model, data.shape, input);
      note(`data: ${data.name} from ${data.source} (${data.train.count} train, ${data.test.count} test)`);
      const variants = await buildVariants(model, data, {
        only: only as VariantName[] | undefined,
        sparsity: num('--sparsity', opts.sparsity),
        filterRatio: num('--filter-ratio', opts.filterRatio),
        bits: num('--bits', opts.bits, true),
        finetuneEpochs: epochs,
        finetuneSamples: samples,
        calibSamples: num('--calib-samples', opts.calibSamples, true),
        threads,
        onProgress: (m) => note(`  ${m}`),
      });
      const files: Record<string, string> = {};
      for (const v of variants) {
        v.bytes = encodeModel(v.model);
        files[v.name] = `${v.name}.onnx`;
      }
      const batches = [...new Set([...DEFAULT_LATENCY_BATCHES, ...(profile ? [profile.batch] : [])])].sort(
        (a, b) => a - b,
      );
      note(`measuring ${variants.length} variants (accuracy, latency at batch ${batches.join(', ')})`);
      const measured = await measureVariants(variants, data.test, data.shape, {
        batches,
        threads,
        rounds: num('--rounds', opts.rounds, true),
        samples: opts.samples ? num('--samples', opts.samples, true) : undefined,
        onProgress: (m) => note(`  ${m}`),
      });
      // Written only once everything is measured: a failed run leaves no partial set of variants.
      mkdirSync(opts.outDir, { recursive: true });
      for (const v of variants) writeFileAtomic(join(opts.outDir, files[v.name]!), v.bytes!);
      const choice = profile ? selectVariant(measured, profile) : undefined;
      const report = buildReport(
        basename(input),
        { source: data.source, test_samples: measured[0]!.samples },
        threads,
        measured,
        files,
        choice,
        Object.fromEntries(variants.map((v) => [v.name, v.details])),
      );
      writeFileAtomic(join(opts.outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
      writeFileAtomic(join(opts.outDir, 'report.md'), reportMarkdown(report));
      writeFileAtomic(join(opts.outDir, 'report.svg'), reportSvg(report));
      emit(opts, { out_dir: opts.outDir, ...report }, () => {
        const rows = report.variants.map((v) => [
          v.name + (v.name === report.target?.selected ? ' *' : ''),
          v.precision,
          (v.bytes / 1024).toFixed(1),
          v.bytes_ratio.toFixed(3),
          (v.accuracy * 100).toFixed(2),
          ...v.latency.map((l) => `${l.p50_ms.toFixed(3)} (${v.latency_ratio[`b${l.batch}`]!.toFixed(2)}x)`),
        ]);
        const lines = [
          table(['variant', 'prec', 'KB', 'x bytes', 'acc %', ...batches.map((b) => `B=${b} p50 ms`)], rows),
        ];
        if (report.target)
          lines.push(
            report.target.selected
              ? `target ${report.target.profile.name}: ${report.target.selected} (${report.target.reason})`
              : `target ${report.target.profile.name}: ${report.target.reason}`,
          );
        lines.push(`wrote ${variants.length} models, report.md, report.svg, report.json to ${opts.outDir}`);
        return lines.join('\n');
      });
    });
}
