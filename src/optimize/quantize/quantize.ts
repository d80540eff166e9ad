/**
 * One entry point over every quantization mode, used by `verge quantize` and the `verge optimize`
 * sweep: mode + options in, quantized model + report out.
 */
import { VergeError } from '../../errors.ts';
import type { Model } from '../../onnx/browser.ts';
import { CALIBRATION_METHODS, type CalibrationMethod } from './calibrate.ts';
import { loadDataset } from '../../data/index.ts';
import { calibrationFromSplit, DEFAULT_CALIBRATION_SAMPLES, resolveCalibration } from './calibration-data.ts';
import { quantizeAwareTraining } from './qat.ts';
import type { QuantizeMode, QuantizeResult } from './common.ts';
import { quantizeDynamic } from './dynamic.ts';
import { convertToFloat16 } from './fp16.ts';
import { quantizeStaticCalibrated } from './static.ts';
import { quantizeWeightBits, type WeightBitsScheme } from './weight-bits.ts';
import { DEFAULT_QAT_STEPS, QUANTIZE_MODES, type QuantizeCliMode } from './defaults.ts';

export { QUANTIZE_MODES, DEFAULT_QAT_STEPS, type QuantizeCliMode };

export interface QuantizeOptions {
  mode: QuantizeCliMode;
  /** dynamic/static/weight-bits: per-channel scales (default true). */
  perChannel?: boolean;
  /** static: calibration source — a dataset name, a folder/.npz, or 'random'. Default 'random'. */
  calib?: string;
  calibMethod?: CalibrationMethod;
  calibSamples?: number;
  percentile?: number;
  activationType?: 'uint8' | 'int8';
  /** static/qat: spatial Convs with a shorter reduction depth stay float (see StaticQuantizeOptions). */
  minReductionDepth?: number;
  /** static: 7-bit weights for x86 CPUs without VNNI (see StaticQuantizeOptions.reduceRange). */
  reduceRange?: boolean;
  /** weight-bits: bits per weight (2–8) and scheme. */
  bits?: number;
  scheme?: WeightBitsScheme;
  /** fp16: which nodes compute in float16 ('cpu' default, 'all'); keep I/O float32 unless fp16Io. */
  fp16Compute?: 'cpu' | 'all';
  fp16Io?: boolean;
  seed?: number;
  /** qat: fine-tuning steps (batch 64) and Adam learning rate; trains on the --calib dataset. */
  qatSteps?: number;
  qatLr?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
  onStep?: (step: number, total: number, loss: number) => void;
}

/** Training samples QAT loads (steps × batch 64 would revisit them when more steps are asked). */
const QAT_TRAIN_SAMPLES = 20_000;

export async function quantizeModel(model: Model, opts: QuantizeOptions): Promise<QuantizeResult> {
  switch (opts.mode) {
    case 'dynamic':
      return quantizeDynamic(model, { perChannel: opts.perChannel });
    case 'static': {
      const method = opts.calibMethod ?? 'minmax';
      if (!CALIBRATION_METHODS.includes(method)) {
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `unknown calibration method '${method}' (expected ${CALIBRATION_METHODS.join(', ')})`,
        );
      }
      const data = await resolveCalibration(
        model,
        opts.calib ?? 'random',
        opts.calibSamples ?? DEFAULT_CALIBRATION_SAMPLES,
        opts.seed,
      );
      return quantizeStaticCalibrated(model, data, {
        method,
        percentile: opts.percentile,
        perChannel: opts.perChannel,
        activationType: opts.activationType,
        minReductionDepth: opts.minReductionDepth,
        reduceRange: opts.reduceRange,
        onProgress: opts.onProgress,
      });
    }
    case 'qat': {
      const source = opts.calib ?? 'random';
      if (source === 'random')
        throw new VergeError(
          'E_BAD_ARGUMENT',
          'qat mode trains on labelled data: pass --calib <dataset name or folder>',
        );
      const ds = await loadDataset(source, { limits: { train: QAT_TRAIN_SAMPLES, test: 0 } });
      const calib = calibrationFromSplit(
        model,
        ds.train,
        ds.shape,
        opts.calibSamples ?? DEFAULT_CALIBRATION_SAMPLES,
        `${ds.name} train (${ds.source})`,
      );
      return quantizeAwareTraining(model, calib, {
        method: opts.calibMethod ?? 'minmax',
        percentile: opts.percentile,
        perChannel: opts.perChannel,
        activationType: opts.activationType,
        minReductionDepth: opts.minReductionDepth,
        train: ds.train,
        sampleShape: ds.shape,
        steps: opts.qatSteps ?? DEFAULT_QAT_STEPS,
        lr: opts.qatLr,
        seed: opts.seed,
        threads: opts.threads,
        onStep: opts.onStep,
      });
    }
    case 'fp16':
      return convertToFloat16(model, { compute: opts.fp16Compute, fp16Io: opts.fp16Io });
    case 'weight-bits':
      if (opts.bits === undefined) throw new VergeError('E_BAD_ARGUMENT', 'weight-bits mode needs --bits N (2–8)');
      return quantizeWeightBits(model, { bits: opts.bits, scheme: opts.scheme, perChannel: opts.perChannel });
    default:
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `unknown quantization mode '${String((opts as { mode: unknown }).mode)}' (expected ${QUANTIZE_MODES.join(', ')})`,
      );
  }
}

export type { QuantizeMode };
