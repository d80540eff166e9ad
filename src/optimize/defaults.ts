/**
 * The optimizer's named defaults (sweep points, measurement settings, fine-tuning rates). Data
 * only, no imports at run time: the CLI declares its flags from these without loading the optimizer.
 */
import type { ScheduleSpec } from '../train/browser.ts';

/** The sweep's default points: the acceptance configurations. */
export const SWEEP_DEFAULTS = Object.freeze({
  sparsity: 0.8,
  filterRatio: 0.5,
  bits: 4,
});

export const VARIANT_NAMES = Object.freeze([
  'fp32',
  'fp16',
  'int8-dynamic',
  'int8-static',
  'pruned',
  'pruned+int8',
  'filters',
  'filters+int8',
  'weight-bits',
] as const);
export type VariantName = (typeof VARIANT_NAMES)[number];

export const DEFAULT_LATENCY_BATCHES = Object.freeze([1, 32]);
/** 2 threads: the machines verge targets in its benchmarks have 2 cores. */
export const DEFAULT_THREADS = 2;
/** 10 rounds x 5 runs = 50 timings per variant and batch size: enough for a stable median. */
export const DEFAULT_ROUNDS = 10;

/** Fine-tuning defaults: Adam at a tenth of its usual 1e-3 step, so the pretrained weights are adjusted, not relearned. */
export const FINETUNE_LR = 1e-4;
/**
 * Structured pruning removes whole filters, so fine-tuning has more to re-learn: Adam at its usual
 * 1e-3, decayed to 0 on a cosine over the run. On the seed CNN (15-epoch fixture, 91.72%), 50% of
 * filters + 2 epochs reached 90.54% this way against 89.37% at a constant 1e-4; the unpruned
 * fixture fine-tuned either way stays at 91.7%.
 */
export const FILTER_FINETUNE_LR = 1e-3;
export const FILTER_FINETUNE_SCHEDULE: Readonly<ScheduleSpec> = Object.freeze({ kind: 'cosine' });
