/**
 * `verge quantize <in> --mode dynamic|static|fp16|weight-bits --out <out> [--json]`: quantize a
 * model and report what changed: bytes in/out, quantized nodes, nodes left in float and why, and
 * (static/dynamic) the kernels onnxruntime actually runs.
 */
import { VergeError } from '../../errors.ts';
import { loadModel, saveModel } from '../../onnx/index.ts';
import {
  densifySparseInitializers,
  executedOps,
  quantizeModel,
  type CalibrationMethod,
  type QuantizeCliMode,
  type WeightBitsScheme,
} from '../../optimize/index.ts';
import { emit, note, progressBar, table } from '../output.ts';

interface QuantizeCliOptions {
  mode: QuantizeCliMode;
  out: string;
  bits?: number;
  scheme: WeightBitsScheme;
  calib?: string;
  calibMethod: CalibrationMethod;
  calibSamples: number;
  percentile: number;
  perChannel: boolean;
  activationType: 'uint8' | 'int8';
  minReductionDepth: number;
  reduceRange?: boolean;
  fp16Compute: 'cpu' | 'all';
  fp16Io?: boolean;
  kernels: boolean;
  qatSteps: number;
  qatLr?: number;
  json?: boolean;
}

/** `verge quantize <in> --mode M --out F` */
export default async function quantize(input: string, opts: QuantizeCliOptions): Promise<void> {
  const { mode, calibMethod, scheme, activationType, fp16Compute, bits, calibSamples, percentile } = opts;
  const { qatSteps, minReductionDepth, qatLr } = opts;
  if (opts.reduceRange && mode !== 'static')
    throw new VergeError('E_BAD_ARGUMENT', `--reduce-range applies to --mode static, not ${mode}`);
  if (mode === 'weight-bits' && bits === undefined)
    throw new VergeError('E_BAD_ARGUMENT', '--mode weight-bits needs --bits N (2 to 8)');
  if (mode === 'static' && opts.calib === undefined)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      "static int8 calibrates on samples like the model's inputs: pass --calib <dataset name or folder> (--calib random works but loses accuracy)",
    );
  if (mode === 'static' && opts.calib === 'random')
    note(
      'warning: calibrating on random inputs: the int8 model can lose several points of accuracy (85.5% -> 80.1% on the seed CNN); pass --calib <dataset> for real samples',
    );
  if (mode === 'qat' && (opts.calib === undefined || opts.calib === 'random')) {
    throw new VergeError('E_BAD_ARGUMENT', 'qat mode trains on labelled data: pass --calib <dataset name or folder>');
  }
  // a pruned model's masked or sparse weights become plain initializers the quantizer can read
  const model = densifySparseInitializers(loadModel(input));
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
    calib: opts.calib ?? 'random',
    calibMethod,
    calibSamples,
    percentile,
    activationType,
    minReductionDepth,
    reduceRange: opts.reduceRange,
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
}
