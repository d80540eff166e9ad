/**
 * `verge quantize <in> --mode dynamic|static|fp16|weight-bits --out <out> [--json]`: quantize a
 * model and report what changed: bytes in/out, quantized nodes, nodes left in float and why, and
 * (static/dynamic) the kernels onnxruntime actually runs.
 */
import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { loadModel, saveModel } from '../../onnx/io.ts';
import {
  CALIBRATION_METHODS,
  DEFAULT_CALIBRATION_SAMPLES,
  DEFAULT_MIN_REDUCTION_DEPTH,
  DEFAULT_QAT_STEPS,
  DEFAULT_PERCENTILE,
  executedOps,
  QUANTIZE_MODES,
  quantizeModel,
  type CalibrationMethod,
  type QuantizeCliMode,
  type WeightBitsScheme,
} from '../../optimize/index.ts';
import { emit, note, progressBar, table } from '../output.ts';

interface QuantizeCliOptions {
  mode: string;
  out: string;
  bits?: string;
  scheme: string;
  calib: string;
  calibMethod: string;
  calibSamples: string;
  percentile: string;
  perChannel: boolean;
  activationType: string;
  minReductionDepth: string;
  fp16Compute: string;
  fp16Io?: boolean;
  kernels: boolean;
  qatSteps: string;
  qatLr?: string;
  json?: boolean;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  }
  return value as T;
}

function number(flag: string, value: string, integer: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be ${integer ? 'an integer' : 'a number'}, got '${value}'`);
  }
  return n;
}

export function register(program: Command): void {
  program
    .command('quantize')
    .description(
      'quantize a model: dynamic int8, static int8 (QDQ, calibrated), float16, weight-only n-bit, or quantization-aware training (qat)',
    )
    .argument('<in>', 'input ONNX model')
    .requiredOption('--mode <mode>', `quantization mode: ${QUANTIZE_MODES.join(', ')}`)
    .requiredOption('--out <file>', 'output ONNX model (written atomically)')
    .option('--bits <n>', 'weight-bits: bits per weight, 2 to 8')
    .option(
      '--scheme <s>',
      "weight-bits: 'affine' (per-channel scale/zero point) or 'fixed-point' (round(w·2^b)/2^b)",
      'affine',
    )
    .option(
      '--calib <src>',
      "static/qat: samples to calibrate (and, for qat, train) on — a dataset name (fashion-mnist), a folder of x.npy / an .npz, or 'random' (static only)",
      'random',
    )
    .option('--calib-method <m>', `static: ${CALIBRATION_METHODS.join(', ')}`, 'minmax')
    .option('--calib-samples <n>', 'static: number of calibration samples', String(DEFAULT_CALIBRATION_SAMPLES))
    .option(
      '--percentile <p>',
      'static, percentile method: central percentage of values kept',
      String(DEFAULT_PERCENTILE),
    )
    .option('--per-channel', 'per-channel weight scales (the default)', true)
    .option('--no-per-channel', 'one scale per weight tensor')
    .option('--activation-type <t>', 'static: activation type, uint8 (asymmetric) or int8', 'uint8')
    .option(
      '--min-reduction-depth <n>',
      'static/qat: spatial Convs whose in-channels × kernel is below n stay float, where int8 is slower (0: quantize all)',
      String(DEFAULT_MIN_REDUCTION_DEPTH),
    )
    .option('--fp16-compute <c>', "fp16: 'cpu' (only ops onnxruntime's CPU runs in float16) or 'all'", 'cpu')
    .option('--fp16-io', 'fp16: make graph inputs/outputs float16 too (default: keep float32)')
    .option(
      '--qat-steps <n>',
      'qat: fine-tuning steps with fake quantization (batch 64) on the --calib dataset',
      String(DEFAULT_QAT_STEPS),
    )
    .option('--qat-lr <x>', 'qat: Adam learning rate (default 1e-4)')
    .option('--no-kernels', 'skip loading the result in onnxruntime to list the kernels it runs')
    .option('--json', 'print one JSON object: {bytes_in, bytes_out, ratio, quantized_nodes, skipped, mode, ...}')
    .action(async (input: string, opts: QuantizeCliOptions) => {
      const mode = oneOf<QuantizeCliMode>('--mode', opts.mode, QUANTIZE_MODES);
      const calibMethod = oneOf<CalibrationMethod>('--calib-method', opts.calibMethod, CALIBRATION_METHODS);
      const scheme = oneOf<WeightBitsScheme>('--scheme', opts.scheme, ['affine', 'fixed-point']);
      const activationType = oneOf('--activation-type', opts.activationType, ['uint8', 'int8'] as const);
      const fp16Compute = oneOf('--fp16-compute', opts.fp16Compute, ['cpu', 'all'] as const);
      const bits = opts.bits === undefined ? undefined : number('--bits', opts.bits, true);
      if (mode === 'weight-bits' && bits === undefined)
        throw new VergeError('E_BAD_ARGUMENT', '--mode weight-bits needs --bits N (2 to 8)');
      const calibSamples = number('--calib-samples', opts.calibSamples, true);
      const percentile = number('--percentile', opts.percentile, false);
      const qatSteps = number('--qat-steps', opts.qatSteps, true);
      const minReductionDepth = number('--min-reduction-depth', opts.minReductionDepth, true);
      if (minReductionDepth < 0)
        throw new VergeError('E_BAD_ARGUMENT', `--min-reduction-depth must be >= 0, got ${minReductionDepth}`);
      const qatLr = opts.qatLr === undefined ? undefined : number('--qat-lr', opts.qatLr, false);
      if (mode === 'qat' && opts.calib === 'random') {
        throw new VergeError(
          'E_BAD_ARGUMENT',
          'qat mode trains on labelled data: pass --calib <dataset name or folder>',
        );
      }
      const model = loadModel(input);
      let bar: ReturnType<typeof progressBar> | undefined;
      let stepBar: ReturnType<typeof progressBar> | undefined;
      if (mode === 'static' || mode === 'qat')
        note(`calibrating on ${opts.calib} (${calibSamples} samples, ${calibMethod})`);
      const started = Date.now();
      const res = await quantizeModel(model, {
        mode,
        bits,
        scheme,
        perChannel: opts.perChannel,
        calib: opts.calib,
        calibMethod,
        calibSamples,
        percentile,
        activationType,
        minReductionDepth,
        fp16Compute,
        fp16Io: opts.fp16Io,
        qatSteps,
        qatLr,
        onStep: (step, total, loss) => {
          stepBar ??= progressBar(total, '  QAT |{bar}| {value}/{total} steps loss {loss}');
          stepBar.update(step, { loss: loss.toFixed(4) });
          if (step === total) stepBar.stop();
        },
        onProgress: (done, total) => {
          bar ??= progressBar(total, '  calibration |{bar}| {value}/{total} batches');
          bar.update(done);
          if (done === total) bar.stop();
        },
      });
      const bytesOut = saveModel(res.model, opts.out);
      const seconds = (Date.now() - started) / 1000;
      const kernels =
        opts.kernels && (mode === 'static' || mode === 'dynamic' || mode === 'qat')
          ? await executedOps(res.model)
          : undefined;
      const r = res.report;
      const json = {
        ...r,
        in: input,
        out: opts.out,
        bytes_out: bytesOut,
        ratio: Math.round((bytesOut / r.bytes_in) * 1e4) / 1e4,
        seconds,
        ...(kernels ? { executed_ops: kernels.ops, int8_kernels: kernels.int8_kernels } : {}),
      };
      emit(opts, json, () => {
        const lines = [
          `${mode}: ${input} (${r.bytes_in.toLocaleString('en-US')} bytes) -> ${opts.out} (${bytesOut.toLocaleString('en-US')} bytes, ${json.ratio}x)`,
          `quantized ${r.quantized_nodes} nodes: ${
            Object.entries(r.quantized_ops)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || 'none'
          }`,
        ];
        if (kernels)
          lines.push(
            `onnxruntime runs: ${Object.entries(kernels.ops)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`,
          );
        if (r.skipped.length > 0) {
          lines.push(`left unquantized (${r.skipped.length}):`);
          lines.push(
            table(
              ['node', 'op', 'reason'],
              r.skipped.slice(0, 30).map((s) => [s.node, s.op, s.reason]),
            ),
          );
          if (r.skipped.length > 30) lines.push(`... and ${r.skipped.length - 30} more (see --json)`);
        }
        for (const n of (r.notes as string[] | undefined) ?? []) lines.push(`note: ${n}`);
        return lines.join('\n');
      });
    });
}
