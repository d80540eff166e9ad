/**
 * `verge optimize <in> --data D [--target <profile|file.json>] --out-dir <dir> [--json]`: build every
 * compressed variant, measure accuracy, bytes and latency (B=1 and B=32, side by side in one run),
 * write each variant and a report (report.md, report.svg, report.json); with --target, pick the
 * most accurate variant that fits the device profile.
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VergeError } from '../../errors.ts';
import { loadDataset } from '../../data/index.ts';
import { encodeModel, dataInputs, type Model } from '../../onnx/browser.ts';
import { loadModel, writeFileAtomic } from '../../onnx/index.ts';
import {
  densifySparseInitializers,
  resolveDeviceProfile,
  DEFAULT_LATENCY_BATCHES,
  measureVariants,
  buildReport,
  reportMarkdown,
  reportSvg,
  buildVariants,
  type VariantName,
  selectVariant,
} from '../../optimize/index.ts';
import { checkFinetuneOptions, type FinetuneCliOptions } from '../finetune-options.ts';
import { emit, note, table } from '../output.ts';

interface OptimizeCliOptions extends FinetuneCliOptions {
  data: string;
  target?: string;
  outDir: string;
  samples?: number;
  variants?: VariantName[];
  sparsity: number;
  filterRatio: number;
  bits: number;
  calibSamples: number;
  rounds: number;
  json?: boolean;
}

/** The model must take the dataset's samples: fail before minutes of building, not after. */
function checkSampleShape(model: Model, sampleShape: number[], path: string): void {
  const inputs = dataInputs(model.graph);
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

/** `verge optimize <in> --data D --out-dir DIR [--target P]` */
export default async function optimize(input: string, opts: OptimizeCliOptions): Promise<void> {
  const profile = opts.target ? resolveDeviceProfile(opts.target) : undefined;
  checkFinetuneOptions(opts);
  const { finetuneEpochs: epochs, finetuneSamples: samples, threads } = opts;
  const model = densifySparseInitializers(loadModel(input));
  const data = await loadDataset(opts.data);
  checkSampleShape(model, data.shape, input);
  note(`data: ${data.name} from ${data.source} (${data.train.count} train, ${data.test.count} test)`);
  const variants = await buildVariants(model, data, {
    only: opts.variants,
    sparsity: opts.sparsity,
    filterRatio: opts.filterRatio,
    bits: opts.bits,
    finetuneEpochs: epochs,
    finetuneSamples: samples,
    calibSamples: opts.calibSamples,
    threads,
    onProgress: (m) => note(`  ${m}`),
  });
  const files: Record<string, string> = {};
  for (const v of variants) {
    v.bytes = encodeModel(v.model);
    files[v.name] = `${v.name}.onnx`;
  }
  const batches = [...new Set([...DEFAULT_LATENCY_BATCHES, ...(profile ? [profile.batch] : [])])].sort((a, b) => a - b);
  note(`measuring ${variants.length} variants (accuracy, latency at batch ${batches.join(', ')})`);
  const measured = await measureVariants(variants, data.test, data.shape, {
    batches,
    threads,
    rounds: opts.rounds,
    samples: opts.samples,
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
    const lines = [table(['variant', 'prec', 'KB', 'x bytes', 'acc %', ...batches.map((b) => `B=${b} p50 ms`)], rows)];
    if (report.target)
      lines.push(
        report.target.selected
          ? `target ${report.target.profile.name}: ${report.target.selected} (${report.target.reason})`
          : `target ${report.target.profile.name}: ${report.target.reason}`,
      );
    lines.push(`wrote ${variants.length} models, report.md, report.svg, report.json to ${opts.outDir}`);
    return lines.join('\n');
  });
}
