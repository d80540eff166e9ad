import type { Command } from 'commander';
import {
  DEFAULT_ROUNDS,
  DEFAULT_THREADS,
  SWEEP_DEFAULTS,
  VARIANT_NAMES,
  type VariantName,
} from '../../optimize/defaults.ts';
import { DEFAULT_CALIBRATION_SAMPLES } from '../../optimize/quantize/defaults.ts';
import { DEVICE_CLASS_NAMES, MODEL_MEMORY_SHARE } from '../../protocol/device-classes.ts';
import { VergeError } from '../../errors.ts';
import { action } from '../command.ts';
import { addFinetuneOptions } from '../finetune-options.ts';
import { integer, number, positiveInt, wordList } from '../options.ts';

/** argParser of --variants: a comma-separated subset of the variant names. */
export function parseVariants(value: string): VariantName[] {
  const only = wordList(value);
  for (const v of only) {
    if (!(VARIANT_NAMES as readonly string[]).includes(v))
      throw new VergeError('E_BAD_ARGUMENT', `unknown variant '${v}' (known: ${VARIANT_NAMES.join(', ')})`);
  }
  return only as VariantName[];
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
      `device profile to select a variant for (the same devices as verge agent --profile): ${DEVICE_CLASS_NAMES.join(', ')}, or a .json file {name, memory_mb, latency_budget_ms, batch, precisions}; a variant fits when its loaded memory (measured) is at most ${MODEL_MEMORY_SHARE * 100}% of memory_mb`,
    )
    .option(
      '--samples <n>',
      'measure accuracy on at most this many test samples (default: all)',
      positiveInt('--samples'),
    )
    .option(
      '--variants <list>',
      `comma-separated subset of: ${VARIANT_NAMES.join(', ')} (fp32 is always built)`,
      parseVariants,
    )
    .option(
      '--sparsity <f>',
      'unstructured pruning sparsity',
      number('--sparsity', { min: 0, below: 1 }),
      SWEEP_DEFAULTS.sparsity,
    )
    .option(
      '--filter-ratio <f>',
      'structured pruning: fraction of filters/units removed per layer',
      number('--filter-ratio', { min: 0, below: 1 }),
      SWEEP_DEFAULTS.filterRatio,
    )
    .option(
      '--bits <n>',
      'weight-bits variant: bits per weight',
      integer('--bits', { min: 2, max: 8 }),
      SWEEP_DEFAULTS.bits,
    );
  addFinetuneOptions(command, 'fine-tune the pruned variants for this many epochs (0: prune only)', DEFAULT_THREADS)
    .option(
      '--calib-samples <n>',
      'static int8 calibration samples from the train split',
      positiveInt('--calib-samples'),
      DEFAULT_CALIBRATION_SAMPLES,
    )
    .option(
      '--rounds <n>',
      'latency rounds over all variants (5 timed runs per variant and batch size each)',
      positiveInt('--rounds'),
      DEFAULT_ROUNDS,
    )
    .option(
      '--json',
      'print one JSON object: the report (variants with bytes, accuracy, latency and ratios to fp32; target choice)',
    )
    .action(action(() => import('../actions/optimize.ts')));
}
