/**
 * Fine-tuning after pruning, on the training engine (train/TrainingSession: forward, backward and
 * Adam in one onnxruntime call per step). Unstructured pruning holds pruned weights at zero after
 * every step (keep-masks); gradual pruning raises sparsity on the polynomial schedule while training.
 * Structured pruning needs no masks: the removed filters are gone.
 */
import { VergeError } from '../../errors.ts';
import type { Split } from '../../data/dataset.ts';
import { batches } from '../../data/dataset.ts';
import type { Model } from '../../onnx/ir.ts';
import type { TensorValue } from '../../runtime/tensor.ts';
import { TrainingSession } from '../../train/session.ts';
import { polynomialSparsity, pruneMagnitude, pruningMasks, type PruneScope } from './magnitude.ts';
import { densifySparseInitializers } from './sparse-storage.ts';

/** Fine-tuning defaults: batch 64 and Adam at a tenth of its usual 1e-3 step, so the pretrained weights are adjusted, not relearned. */
export const FINETUNE_BATCH = 64;
export const FINETUNE_LR = 1e-4;
/** Gradual pruning reaches its final sparsity after this fraction of the steps, then trains on with fixed masks. */
export const GRADUAL_PRUNE_FRACTION = 0.6;
/** Steps between two mask updates during gradual pruning. */
export const GRADUAL_PRUNE_EVERY = 50;

export interface FinetuneOptions {
  epochs: number;
  batch?: number;
  lr?: number;
  seed?: number;
  threads?: number;
  /** Hold these weights at zero (1 = keep) after every step. */
  masks?: Map<string, Uint8Array>;
  /** Prune gradually to this sparsity while training (unstructured, magnitude). */
  gradual?: { sparsity: number; scope?: PruneScope };
  /** Use at most this many training samples per epoch (quick runs). */
  maxSamples?: number;
  onProgress?: (step: number, totalSteps: number, loss: number) => void;
}

export interface FinetuneResult {
  model: Model;
  steps: number;
  history: { epoch: number; loss: number; accuracy: number }[];
}

function dataInputName(model: Model): string {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1)
    throw new VergeError(
      'E_UNSUPPORTED',
      `fine-tuning needs a model with one data input, this one has ${inputs.length}`,
    );
  return inputs[0]!.name;
}

function applyMasks(session: TrainingSession, masks: Map<string, Uint8Array>): void {
  const state = session.getState();
  for (const [name, mask] of masks) {
    const v = state.tensors[name];
    if (!v) continue;
    const d = v.data as Float32Array;
    for (let i = 0; i < d.length; i++) if (mask[i] === 0) d[i] = 0;
  }
  session.setState(state);
}

export async function finetune(
  model: Model,
  train: Split,
  sampleShape: number[],
  opts: FinetuneOptions,
): Promise<FinetuneResult> {
  if (!(opts.epochs >= 0) || !Number.isInteger(opts.epochs))
    throw new VergeError('E_BAD_ARGUMENT', `fine-tune epochs must be a whole number >= 0, got ${opts.epochs}`);
  const dense = densifySparseInitializers(model);
  if (opts.epochs === 0) return { model: dense, steps: 0, history: [] };
  const input = dataInputName(dense);
  const batch = opts.batch ?? FINETUNE_BATCH;
  const count = Math.min(train.count, opts.maxSamples ?? Infinity);
  const per = train.x.length / Math.max(1, train.count);
  const split: Split = { x: train.x.subarray(0, count * per), y: train.y.subarray(0, count), count };
  const stepsPerEpoch = Math.floor(count / batch);
  if (stepsPerEpoch === 0)
    throw new VergeError('E_DATA_INVALID', `fine-tuning needs at least ${batch} training samples, got ${count}`);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const session = await TrainingSession.create(dense, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr: opts.lr ?? FINETUNE_LR },
    threads: opts.threads,
    seed: opts.seed,
  });
  let masks = opts.masks;
  const pruneUntil = Math.max(1, Math.floor(totalSteps * GRADUAL_PRUNE_FRACTION));
  const history: FinetuneResult['history'] = [];
  let step = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (const b of batches(split, batch, { shuffle: true, seed: (opts.seed ?? 0) + epoch, dropLast: true })) {
        if (opts.gradual && step <= pruneUntil && step % GRADUAL_PRUNE_EVERY === 0) {
          const target = polynomialSparsity(step, pruneUntil, opts.gradual.sparsity);
          const pruned = pruneMagnitude(session.exportModel(), { sparsity: target, scope: opts.gradual.scope });
          masks = pruningMasks(pruned.model);
        }
        const x: TensorValue = { dtype: 'float32', dims: [b.count, ...sampleShape], data: b.x };
        const y: TensorValue = { dtype: 'int32', dims: [b.count], data: b.y };
        const r = await session.step({ [input]: x }, y);
        if (masks) applyMasks(session, masks);
        lossSum += r.loss * r.count;
        correct += r.correct ?? 0;
        seen += r.count;
        step++;
        opts.onProgress?.(step, totalSteps, r.loss);
      }
      history.push({ epoch: epoch + 1, loss: lossSum / seen, accuracy: correct / seen });
    }
    if (opts.gradual) {
      // The schedule ends exactly at the target: prune the final weights once more to be sure.
      const pruned = pruneMagnitude(session.exportModel(), {
        sparsity: opts.gradual.sparsity,
        scope: opts.gradual.scope,
      });
      return { model: pruned.model, steps: step, history };
    }
    return { model: session.exportModel(), steps: step, history };
  } finally {
    await session.release();
  }
}
