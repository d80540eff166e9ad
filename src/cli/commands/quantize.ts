import type { Command } from 'commander';
import {
  CALIBRATION_METHODS,
  DEFAULT_CALIBRATION_SAMPLES,
  DEFAULT_MIN_REDUCTION_DEPTH,
  DEFAULT_PERCENTILE,
  DEFAULT_QAT_STEPS,
  QUANTIZE_MODES,
} from '../../optimize/quantize/defaults.ts';
import { action } from '../command.ts';
import { choice, integer, nonNegativeInt, number, positiveInt } from '../options.ts';

export function register(program: Command): void {
  program
    .command('quantize')
    .description(
      'quantize a model: dynamic int8, static int8 (QDQ, calibrated), float16, weight-only n-bit, or quantization-aware training (qat)',
    )
    .argument('<in>', 'input ONNX model')
    .addOption(choice('--mode <mode>', 'quantization mode', QUANTIZE_MODES).makeOptionMandatory())
    .requiredOption('--out <file>', 'output ONNX model (written atomically)')
    .option('--bits <n>', 'weight-bits: bits per weight, 2 to 8', integer('--bits', { min: 2, max: 8 }))
    .addOption(
      choice(
        '--scheme <s>',
        "weight-bits: 'affine' (per-channel scale/zero point) or 'fixed-point' (round(w·2^b)/2^b)",
        ['affine', 'fixed-point'],
        'affine',
      ),
    )
    .option(
      '--calib <src>',
      "static/qat (required): samples to calibrate (and, for qat, train) on — any dataset `--data` takes (a built-in name such as fashion-mnist, an image/text folder, a CSV, a folder of x.npy / an .npz; `verge data --help` lists the formats), or 'random' (static only; loses accuracy, see docs/compression.md)",
    )
    .addOption(choice('--calib-method <m>', 'static: calibration method', CALIBRATION_METHODS, 'minmax'))
    .option(
      '--calib-samples <n>',
      'static: number of calibration samples',
      positiveInt('--calib-samples'),
      DEFAULT_CALIBRATION_SAMPLES,
    )
    .option(
      '--percentile <p>',
      'static, percentile method: central percentage of values kept',
      number('--percentile', { above: 0, max: 100 }),
      DEFAULT_PERCENTILE,
    )
    .option('--per-channel', 'per-channel weight scales (the default)', true)
    .option('--no-per-channel', 'one scale per weight tensor')
    .addOption(
      choice(
        '--activation-type <t>',
        'static: activation type (uint8 asymmetric, or int8)',
        ['uint8', 'int8'],
        'uint8',
      ),
    )
    .option(
      '--min-reduction-depth <n>',
      'static/qat: spatial Convs whose in-channels × kernel is below n stay float, where int8 is slower (0: quantize all)',
      nonNegativeInt('--min-reduction-depth'),
      DEFAULT_MIN_REDUCTION_DEPTH,
    )
    .option(
      '--reduce-range',
      "static: 7-bit weights, for x86 CPUs without VNNI (AVX2 only) where onnxruntime's int8 kernels saturate with 8-bit weights (docs/compression.md)",
    )
    .addOption(
      choice(
        '--fp16-compute <c>',
        "fp16: 'cpu' (only ops onnxruntime's CPU runs in float16) or 'all'",
        ['cpu', 'all'],
        'cpu',
      ),
    )
    .option('--fp16-io', 'fp16: make graph inputs/outputs float16 too (default: keep float32)')
    .option(
      '--qat-steps <n>',
      'qat: fine-tuning steps with fake quantization (batch 64) on the --calib dataset',
      positiveInt('--qat-steps'),
      DEFAULT_QAT_STEPS,
    )
    .option('--qat-lr <x>', 'qat: Adam learning rate (default 1e-4)', number('--qat-lr', { above: 0 }))
    .option('--no-kernels', 'skip loading the result in onnxruntime to list the kernels it runs')
    .option('--json', 'print one JSON object: {bytes_in, bytes_out, ratio, quantized_nodes, skipped, mode, ...}')
    .action(action(() => import('../actions/quantize.ts')));
}
