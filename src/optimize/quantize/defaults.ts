/**
 * Quantization modes, calibration methods and defaults. Data only (no imports at run time): the
 * CLI declares its flags from these without loading the quantizer.
 */

export const QUANTIZE_MODES = Object.freeze(['dynamic', 'static', 'fp16', 'weight-bits', 'qat'] as const);
export type QuantizeCliMode = (typeof QUANTIZE_MODES)[number];

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = Object.freeze(['minmax', 'percentile', 'entropy']);

/** Default percentile: onnxruntime's quantization tool and NVIDIA's pytorch-quantization use 99.99. */
export const DEFAULT_PERCENTILE = 99.99;

/** Default number of calibration samples: onnxruntime's docs suggest "a few hundred"; 256 is ample for small CNNs. */
export const DEFAULT_CALIBRATION_SAMPLES = 256;

/** See {@link StaticQuantizeOptions.minReductionDepth} in static.ts. */
export const DEFAULT_MIN_REDUCTION_DEPTH = 24;

/** Default QAT fine-tuning length: a few hundred steps recover most of the int8 loss (PyTorch's QAT tutorial fine-tunes ~1 epoch). */
export const DEFAULT_QAT_STEPS = 300;
