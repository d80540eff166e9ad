/** Dense (fully connected): y = x·W + b over the last axis. */
import { VergeError } from '../../errors.ts';
import type { InitName } from '../init.ts';
import { Layer, shapeError, shapeStr, type BuildContext, type Shape } from '../layer.ts';

export interface DenseOptions {
  units: number;
  useBias?: boolean;
  kernelInit?: InitName;
  biasInit?: InitName;
  name?: string;
}

export class Dense extends Layer {
  readonly kind = 'dense';
  readonly units: number;
  readonly useBias: boolean;
  readonly kernelInit: InitName;
  readonly biasInit: InitName;

  constructor(opts: DenseOptions | number) {
    const o = typeof opts === 'number' ? { units: opts } : opts;
    super(o.name);
    if (!(Number.isInteger(o.units) && o.units > 0))
      throw new VergeError('E_BAD_ARGUMENT', `dense units must be a positive integer, got ${o.units}`);
    this.units = o.units;
    this.useBias = o.useBias ?? true;
    this.kernelInit = o.kernelInit ?? 'torch';
    this.biasInit = o.biasInit ?? 'torch';
  }

  outputShape([s]: Shape[]): Shape {
    if (!s || s.length === 0)
      throw shapeError(this.kind, `needs an input with a feature axis, got ${shapeStr(s ?? [])}`);
    return [...s.slice(0, -1), this.units];
  }

  paramCount([s]: Shape[]): number {
    const inF = s![s!.length - 1]!;
    return inF * this.units + (this.useBias ? this.units : 0);
  }

  emit(ctx: BuildContext, scope: string, [x]: string[], [s]: Shape[]): string {
    const inF = s![s!.length - 1]!;
    const fans = { fanIn: inF, fanOut: this.units };
    // Weight stored [in, out] so one MatMul/Gemm serves any rank without a transpose.
    const w = this.param(ctx, scope, 'weight', [inF, this.units], this.kernelInit, fans);
    const b = this.useBias ? this.param(ctx, scope, 'bias', [this.units], this.biasInit, fans) : undefined;
    if (s!.length === 1) return ctx.g.op('Gemm', b ? [x!, w, b] : [x!, w]);
    const y = ctx.g.op('MatMul', [x!, w]);
    return b ? ctx.g.op('Add', [y, b]) : y;
  }
}
