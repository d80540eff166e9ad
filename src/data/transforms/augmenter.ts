/**
 * Augmentation on the fly in `fit`: a callback that transforms each training batch before its
 * step (batches are fresh copies, so the dataset is never changed). Each step draws from its own
 * random stream (seed, step), so a run repeats exactly and resuming from a checkpoint continues
 * the same augmentation. Structurally a train FitCallback (data/ does not import train/).
 */
import { VergeError } from '../../errors.ts';
import { rng } from '../dataset.ts';
import { augmentBatch, checkAugment, type AugmentStep } from './pipeline.ts';

/** What the callback reads and returns of fit's batch. */
export interface AugmentableBatch {
  x: Float32Array;
  y: Int32Array;
  count: number;
  shape: number[];
  step: number;
  targets?: Float32Array;
}

export interface AugmenterOptions {
  /** Per-sample shape of the data (image transforms need [channels, height, width]). */
  shape: readonly number[];
  classes: number;
  seed: number;
  /** Token ids cannot be augmented: set for text data. */
  tokens?: boolean;
  /** The training loss: mixup's soft labels need a loss that takes float targets. */
  loss: string;
  /** What the data is called in messages. */
  what?: string;
}

/** Losses that train on float targets (one-hot or soft labels). */
const SOFT_LABEL_LOSSES = ['mse', 'binary-cross-entropy'];

/** Step seeds are spread apart so neighbouring steps' streams do not overlap. */
const STEP_SEED_STRIDE = 0x9e3779b1;

export function augmenter(
  steps: readonly AugmentStep[],
  opts: AugmenterOptions,
): { onBatchBegin(batch: AugmentableBatch): AugmentableBatch } {
  if (opts.tokens)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      '--augment works on images, tables and series; text token ids cannot be augmented',
    );
  checkAugment(steps, opts.shape, opts.what);
  const mixes = steps.some((s) => s.transform.kind === 'batch');
  if (mixes && !SOFT_LABEL_LOSSES.includes(opts.loss))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--augment mixup blends labels into soft targets: train with --loss ${SOFT_LABEL_LOSSES.join(' or ')} (not ${opts.loss})`,
    );
  if (mixes && opts.classes < 2)
    throw new VergeError('E_BAD_ARGUMENT', '--augment mixup needs class labels (regression targets are not mixed)');
  return {
    onBatchBegin(batch) {
      const random = rng((opts.seed + Math.imul(batch.step + 1, STEP_SEED_STRIDE)) >>> 0);
      const b = { x: batch.x, y: batch.y, count: batch.count, shape: batch.shape, classes: opts.classes };
      augmentBatch(steps, b, random);
      return (b as { soft?: Float32Array }).soft ? { ...batch, targets: (b as { soft?: Float32Array }).soft } : batch;
    },
  };
}
