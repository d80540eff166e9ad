/** The quickstart's model: the seed CNN trained briefly, and its int8 and fp16 variants. */
import type { Dataset } from '../data/browser.ts';
import { buildArchitecture } from '../nn/index.ts';
import { encodeModel, type Model } from '../onnx/browser.ts';
import { calibrationFromSplit, convertToFloat16, quantizeStaticCalibrated } from '../optimize/index.ts';
import type { Precision } from '../protocol/index.ts';
import { fit, TrainingSession } from '../train/index.ts';
import { round, type DemoReporter } from './reporter.ts';

/** Mini-batch of the training run. */
export const TRAIN_BATCH = 64;
/** Adam's usual step: the brief run reaches ~80% on Fashion-MNIST in 300 steps. */
const TRAIN_LR = 1e-3;
/** Fashion-MNIST's sample shape. */
const SAMPLE_SHAPE = [1, 28, 28];

export interface TrainInfo {
  steps: number;
  samples_per_sec: number;
  seconds: number;
}

export interface Variant {
  variant: string;
  precision: Precision;
  /** Device profile class the variant is built for (null: any device). */
  profile: string | null;
  bytes: Uint8Array;
  note?: string;
}

/** A variant as summaries report it (its size, not its bytes). */
export interface VariantSummary {
  variant: string;
  precision: string;
  bytes: number;
  profile: string | null;
  note?: string;
}

export function variantSummary({ variant, precision, bytes, profile, note }: Variant): VariantSummary {
  return { variant, precision, bytes: bytes.length, profile, note };
}

/** Train the seed CNN for `steps` Adam steps with verge's trainer on onnxruntime. */
export async function trainSeedCnn(
  data: Dataset,
  steps: number,
  report: DemoReporter,
): Promise<{ model: Model; info: TrainInfo }> {
  const model = buildArchitecture('cnn', { inputShape: SAMPLE_SHAPE, classes: data.classes, seed: 0 });
  const session = await TrainingSession.create(model, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr: TRAIN_LR },
    threads: 2,
  });
  try {
    const bar = report.progress(steps, 'steps', ['loss', 'samples_per_s']);
    const t0 = performance.now();
    const res = await fit(session, data, {
      steps,
      batchSize: TRAIN_BATCH,
      lr: TRAIN_LR,
      seed: 0,
      onProgress: (p) =>
        bar.update(p.globalStep, { loss: p.loss.toFixed(3), samples_per_s: Math.round(p.samplesPerSec) }),
    });
    bar.stop();
    const seconds = round((performance.now() - t0) / 1000, 1);
    return {
      model: session.exportModel(),
      info: { steps: res.steps, samples_per_sec: Math.round(res.samples_per_sec), seconds },
    };
  } finally {
    await session.release();
  }
}

/** fp32, static int8 (calibrated on training images) and fp16 (built for the 'small' profile class). */
export async function makeVariants(model: Model, data: Dataset, calibrationSamples: number): Promise<Variant[]> {
  const calib = calibrationFromSplit(model, data.train, SAMPLE_SHAPE, calibrationSamples, `${data.name} train`);
  const int8 = await quantizeStaticCalibrated(model, calib, { method: 'minmax', perChannel: true });
  const fp16 = convertToFloat16(model, { compute: 'cpu' });
  return [
    { variant: 'fp32', precision: 'fp32', profile: null, bytes: encodeModel(model) },
    {
      variant: 'int8',
      precision: 'int8',
      profile: null,
      bytes: encodeModel(int8.model),
      note: `static int8, ${int8.report.quantized_nodes} nodes, calibrated on ${calib.samples} images`,
    },
    {
      // half the memory of fp32, and no int8 path needed: built for the small device class
      variant: 'fp16',
      precision: 'fp16',
      profile: 'small',
      bytes: encodeModel(fp16.model),
      note: 'float16 weights and compute where onnxruntime CPU has fp16 kernels',
    },
  ];
}
