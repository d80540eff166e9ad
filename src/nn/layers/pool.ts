/** Pooling: MaxPool, AvgPool (any spatial rank), GlobalAvgPool (to [C]). */
import { VergeError } from '../../errors.ts';
import { Layer, shapeError, shapeStr, type BuildContext, type Shape } from '../layer.ts';
import { resolvePads, windowOutput, type Padding } from './conv.ts';

export interface PoolOptions {
  kernel: number | number[];
  /** Default: the kernel size (non-overlapping windows), as in PyTorch and Keras. */
  stride?: number | number[];
  padding?: Padding;
  name?: string;
}

abstract class PoolNd extends Layer {
  abstract readonly opType: 'MaxPool' | 'AveragePool';
  readonly opts: PoolOptions;

  constructor(opts: PoolOptions | number) {
    const o = typeof opts === 'number' ? { kernel: opts } : opts;
    super(o.name);
    this.opts = o;
  }

  private geometry(s: Shape): { kernel: number[]; strides: number[]; pads: number[] } {
    const rank = s.length - 1;
    const arr = (v: number | number[]) => (typeof v === 'number' ? new Array<number>(rank).fill(v) : v);
    const kernel = arr(this.opts.kernel);
    const strides = arr(this.opts.stride ?? this.opts.kernel);
    if (kernel.length !== rank || strides.length !== rank) {
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `${this.kind}: kernel/stride must have ${rank} entries for input ${shapeStr(s)}`,
      );
    }
    const ones = new Array<number>(rank).fill(1);
    return { kernel, strides, pads: resolvePads(this.opts.padding ?? 'valid', s.slice(1), kernel, strides, ones) };
  }

  outputShape([s]: Shape[]): Shape {
    if (!s || s.length < 2) throw shapeError(this.kind, `expects [channels, spatial...], got ${shapeStr(s ?? [])}`);
    const { kernel, strides, pads } = this.geometry(s);
    const out = windowOutput(
      s.slice(1),
      kernel,
      strides,
      kernel.map(() => 1),
      pads,
    );
    if (out.some((d) => d < 1))
      throw shapeError(this.kind, `window ${shapeStr(kernel)} does not fit input ${shapeStr(s)}`);
    return [s[0]!, ...out];
  }

  paramCount(): number {
    return 0;
  }

  emit(ctx: BuildContext, _scope: string, [x]: string[], [s]: Shape[]): string {
    const { kernel, strides, pads } = this.geometry(s!);
    const attrs: Record<string, number[] | number> = { kernel_shape: kernel, strides, pads };
    // Padding cells do not count towards the average (PyTorch's count_include_pad=False behaviour for 'same').
    if (this.opType === 'AveragePool') attrs.count_include_pad = 0;
    return ctx.g.op(this.opType, [x!], attrs);
  }
}

export class MaxPool extends PoolNd {
  readonly kind = 'maxpool';
  readonly opType = 'MaxPool' as const;
}

export class AvgPool extends PoolNd {
  readonly kind = 'avgpool';
  readonly opType = 'AveragePool' as const;
}

/** Mean over all spatial positions: [C, ...spatial] -> [C]. */
export class GlobalAvgPool extends Layer {
  readonly kind = 'globalavgpool';
  constructor(name?: string) {
    super(name);
  }
  outputShape([s]: Shape[]): Shape {
    if (!s || s.length < 2) throw shapeError(this.kind, `expects [channels, spatial...], got ${shapeStr(s ?? [])}`);
    return [s[0]!];
  }
  paramCount(): number {
    return 0;
  }
  emit(ctx: BuildContext, _scope: string, [x]: string[]): string {
    return ctx.g.op('Flatten', [ctx.g.op('GlobalAveragePool', [x!])], { axis: 1 });
  }
}
