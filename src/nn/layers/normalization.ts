/**
 * BatchNorm and Dropout. Inference builds emit the inference forms (BatchNormalization with
 * running statistics, Dropout as identity); training builds (`build({ training: true })`) emit
 * BatchNormalization with training_mode=1 and its running-statistics outputs, and Dropout with
 * training_mode=true.
 */
import { VergeError } from '../../errors.ts';
import { float } from '../../onnx/browser.ts';
import { Layer, shapeError, shapeStr, type BuildContext, type Shape } from '../layer.ts';

export interface BatchNormOptions {
  /** PyTorch convention: running = (1 - momentum) * running + momentum * batch. Default 0.1 (PyTorch's). */
  momentum?: number;
  /** Default 1e-5 (PyTorch's). */
  epsilon?: number;
  name?: string;
}

/** Batch normalization over the channel axis (axis 0 of a sample, axis 1 of the batch). */
export class BatchNorm extends Layer {
  readonly kind = 'batchnorm';
  readonly momentum: number;
  readonly epsilon: number;
  constructor(opts: BatchNormOptions = {}) {
    super(opts.name);
    this.momentum = opts.momentum ?? 0.1;
    this.epsilon = opts.epsilon ?? 1e-5;
    if (!(this.momentum >= 0 && this.momentum <= 1))
      throw new VergeError('E_BAD_ARGUMENT', `batchnorm momentum must be in [0, 1]`);
  }
  outputShape([s]: Shape[]): Shape {
    if (!s || s.length < 1) throw shapeError(this.kind, `needs a channel axis, got ${shapeStr(s ?? [])}`);
    return s;
  }
  /** scale, bias, running mean, running variance: 4 per channel (as PyTorch's state_dict counts them, less num_batches_tracked). */
  paramCount([s]: Shape[]): number {
    return 4 * s![0]!;
  }
  emit(ctx: BuildContext, scope: string, [x]: string[], [s]: Shape[]): string {
    const c = s![0]!;
    const scale = this.paramValues(ctx, scope, 'weight', [c], new Float32Array(c).fill(1));
    const bias = this.paramValues(ctx, scope, 'bias', [c], new Float32Array(c));
    const mean = this.paramValues(ctx, scope, 'running_mean', [c], new Float32Array(c));
    const variance = this.paramValues(ctx, scope, 'running_var', [c], new Float32Array(c).fill(1));
    // ONNX momentum weighs the old running value: onnx = 1 - pytorch.
    const attrs = { epsilon: float(this.epsilon), momentum: float(1 - this.momentum) };
    if (!ctx.training) return ctx.g.op('BatchNormalization', [x!, scale, bias, mean, variance], attrs);
    const [y] = ctx.g.node(
      'BatchNormalization',
      [x!, scale, bias, mean, variance],
      { ...attrs, training_mode: 1 },
      { outputs: 3 },
    );
    return y!;
  }
}

export class Dropout extends Layer {
  readonly kind = 'dropout';
  readonly rate: number;
  constructor(rate: number, name?: string) {
    super(name);
    if (!(rate >= 0 && rate < 1)) throw new VergeError('E_BAD_ARGUMENT', `dropout rate must be in [0, 1), got ${rate}`);
    this.rate = rate;
  }
  outputShape([s]: Shape[]): Shape {
    return s!;
  }
  paramCount(): number {
    return 0;
  }
  emit(ctx: BuildContext, _scope: string, [x]: string[]): string {
    // An initializer, not a Constant node: training rewrites Dropout (reading the ratio as a
    // constant input) and no gradient ever reaches it, so it never becomes a parameter.
    const ratio = ctx.g.scalar(this.rate, 'float32', 'dropout_ratio');
    if (!ctx.training) return ctx.g.op('Dropout', [x!, ratio]);
    const on = ctx.g.initializer('dropout_training', 'bool', [], [1]);
    // A seed drawn from the build's stream keeps training builds reproducible.
    return ctx.g.op('Dropout', [x!, ratio, on], { seed: float(Math.floor(ctx.rand() * 2 ** 24)) });
  }
}
