/**
 * Fixed input preprocessing inside the model, so deployed models take raw samples: Standardize
 * subtracts a mean and divides by a standard deviation (scalars, or one per channel).
 */
import { VergeError } from '../../errors.ts';
import { Layer, fixedConstant, shapeError, type BuildContext, type Shape } from '../layer.ts';

export interface StandardizeOptions {
  mean: number | number[];
  std: number | number[];
  /**
   * Which axis per-value statistics follow: 'channel' (the first sample axis: image channels,
   * tabular features) or 'last' (the feature axis of [steps, features] series). Default 'channel'.
   */
  axis?: 'channel' | 'last';
  name?: string;
}

export class Standardize extends Layer {
  readonly kind = 'standardize';
  readonly mean: number[];
  readonly std: number[];
  readonly axis: 'channel' | 'last';
  constructor(opts: StandardizeOptions) {
    super(opts.name);
    this.axis = opts.axis ?? 'channel';
    this.mean = typeof opts.mean === 'number' ? [opts.mean] : opts.mean;
    this.std = typeof opts.std === 'number' ? [opts.std] : opts.std;
    if (this.mean.length !== this.std.length || this.mean.length === 0)
      throw new VergeError('E_BAD_ARGUMENT', 'standardize: give as many means as standard deviations');
    if (!this.std.every((s) => s > 0))
      throw new VergeError('E_BAD_ARGUMENT', 'standardize: standard deviations must be positive');
  }
  outputShape([s]: Shape[]): Shape {
    const n = this.axis === 'last' ? s![s!.length - 1] : s![0];
    if (this.mean.length > 1 && n !== this.mean.length) {
      throw shapeError(this.kind, `${this.mean.length} per-${this.axis} statistics for ${n} values on that axis`);
    }
    return s!;
  }
  paramCount(): number {
    return 0;
  }
  emit(ctx: BuildContext, _scope: string, [x]: string[], [s]: Shape[]): string {
    // Per-channel statistics broadcast as [C, 1, …, 1] against [batch, C, …]; per-last-axis as [F].
    const dims =
      this.mean.length === 1
        ? []
        : this.axis === 'last'
          ? [this.mean.length]
          : [this.mean.length, ...s!.slice(1).map(() => 1)];
    const mean = fixedConstant(ctx.g, 'standardize_mean', this.mean, dims);
    const invStd = fixedConstant(
      ctx.g,
      'standardize_inv_std',
      this.std.map((v) => 1 / v),
      dims,
    );
    return ctx.g.op('Mul', [ctx.g.op('Sub', [x!, mean]), invStd]);
  }
}
