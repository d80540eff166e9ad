/**
 * `verge codec train --adapt-classifier`: fine-tune the cloud classifier for a learned codec's
 * decoded inputs. A lossy codec costs accuracy partly because the classifier never saw its
 * reconstructions; training it further on decoder(encoder(x)) — as the cloud receives them,
 * through the real codec frames — wins most of that back. By default on the decoded copies only
 * (the measured best: the cloud answers raw inputs with the original model anyway); `originals`
 * adds the originals (so raw inputs are not forgotten by the adapted copy). The result is the
 * same model (inputs, outputs, names) with new weights, published beside the codec halves as
 * `<codec>-classifier@<version>` (parent: the classifier it adapts); the control plane answers
 * offloaded frames of that codec with it (cloud/hosted-models.ts).
 */
import { concatSplits, type Dataset, type Split } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/browser.ts';
import type { Session } from '../runtime/index.ts';
import { fit, TrainingSession } from '../train/index.ts';
import { CODEC_RECIPE } from './codec-recipe.ts';
import { accuracy } from './codec-train.ts';

/**
 * Fine-tuning defaults = the measured recipe's (codec-recipe.ts): 2 epochs at Adam 1e-4 on the
 * decoded copies only (session 9: −0.77 pt with the width-2 codec; session 6 chose epochs and rate:
 * a larger rate moves the weights away from what the classifier knew about raw inputs).
 */
export const ADAPT_DEFAULTS = Object.freeze({
  epochs: CODEC_RECIPE.adapt.epochs,
  lr: CODEC_RECIPE.adapt.lr,
  batchSize: CODEC_RECIPE.batchSize,
  originals: CODEC_RECIPE.adapt.data === 'both',
});

export interface AdaptOptions {
  epochs: number;
  lr: number;
  batchSize: number;
  seed: number;
  threads?: number;
  /** Train on the originals too, or (default, ADAPT_DEFAULTS) on the decoded copies only. */
  originals?: boolean;
  onEpoch?: (epoch: number, loss: number) => void;
}

/**
 * The classifier fine-tuned (cross-entropy, Adam) on `decodedTrain` (the samples of `data.train`,
 * same labels, after the codec's round trip), with `o.originals` on `data.train` too. `decodedTrain` holds `data.train.count`
 * samples of `data.shape`.
 */
export async function adaptClassifier(
  classifier: Model,
  data: Dataset,
  decodedTrain: Float32Array,
  o: AdaptOptions,
): Promise<Model> {
  if (decodedTrain.length !== data.train.x.length)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `adapting the classifier needs every training sample decoded: got ${decodedTrain.length} values for ${data.train.x.length}`,
    );
  const decoded: Split = { x: decodedTrain, y: data.train.y, count: data.train.count };
  const session = await TrainingSession.create(classifier, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam' },
    threads: o.threads,
  });
  try {
    await fit(
      session,
      { ...data, train: (o.originals ?? ADAPT_DEFAULTS.originals) ? concatSplits(data.train, decoded) : decoded },
      {
        epochs: o.epochs,
        batchSize: o.batchSize,
        lr: o.lr,
        seed: o.seed,
        onEpochEnd: (r) => o.onEpoch?.(r.epoch, r.loss),
      },
    );
    return session.exportModel();
  } finally {
    await session.release();
  }
}

export interface AdaptedReport {
  /** The adapted classifier on the held-out originals and on their decoded copies. */
  accuracy_original: number;
  accuracy_decoded: number;
  /**
   * Points lost against sending raw inputs to the classifier before adaptation: its accuracy on
   * the originals minus the adapted classifier's on decoded inputs (what offloading through the
   * codec costs end to end).
   */
  drop_pts: number;
}

/** The adapted classifier measured on held-out `split` and its decoded copy `decoded`. */
export async function measureAdapted(
  adapted: Session,
  split: Split,
  decoded: Float32Array,
  shape: number[],
  originalBefore: number,
): Promise<AdaptedReport> {
  const per = shape.reduce((a, b) => a * b, 1);
  const labels = split.y.subarray(0, split.count);
  const a = await accuracy(adapted, split.x.subarray(0, split.count * per), labels, shape);
  const b = await accuracy(adapted, decoded, labels, shape);
  return { accuracy_original: a, accuracy_decoded: b, drop_pts: 100 * (originalBefore - b) };
}
